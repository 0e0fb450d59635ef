// The status of an issue as a coloured badge, shared by the Errors list, the issue page and
// the trace view's links to issues.
import { statusColors } from '../errors';

const icons: Record<string, string> = { unresolved: '●', regressed: '↻', resolved: '✓', ignored: '⊘' };

export function IssueStatusBadge({ status, title }: { status: string; title?: string }) {
  const color = statusColors[status] ?? '#6e7681';
  return (
    <span className={`status-badge issue-status-${status}`} style={{ color, borderColor: color }} title={title ?? status} data-testid="issue-status" data-status={status}>
      <span aria-hidden="true">{icons[status] ?? '?'}</span> {status}
    </span>
  );
}
