// The status of a job run as a coloured badge, shared by the runs list, run and compare pages.
// A lost run (heartbeats stopped, docs/run.md "Lost runs") says why in its tooltip unless
// the caller gives a more precise one (lostTitle).
import { LOST_WHY, statusColors, statusIcons } from '../runs';

export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const color = statusColors[status] ?? '#6e7681';
  return (
    <span className={`status-badge status-${status}`} style={{ color, borderColor: color }} title={title ?? (status === 'lost' ? LOST_WHY : status)} data-testid="run-status">
      <span aria-hidden="true">{statusIcons[status] ?? '?'}</span> {status}
    </span>
  );
}
