// The status of a job run as a coloured badge, shared by the runs list, run and compare pages.
import { statusColors, statusIcons } from '../runs';

export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const color = statusColors[status] ?? '#6e7681';
  return (
    <span className={`status-badge status-${status}`} style={{ color, borderColor: color }} title={title ?? status} data-testid="run-status">
      <span aria-hidden="true">{statusIcons[status] ?? '?'}</span> {status}
    </span>
  );
}
