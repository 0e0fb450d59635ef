// A log body in one line of a list: the first line, and how many more there are (a stack
// trace's "Exception: ..." line stays readable; the whole body is in the expanded row).
export function BodyText({ body }: { body: string }) {
  const nl = body.indexOf('\n');
  if (nl < 0) return <span className="log-body">{body}</span>;
  const more = body.slice(nl + 1).split('\n').length;
  return (
    <span className="log-body">
      {body.slice(0, nl)}
      <span className="more-lines" data-testid="more-lines" title="Expand the row to read the whole body">
        +{more} {more === 1 ? 'line' : 'lines'}
      </span>
    </span>
  );
}

/** FullBody shows a whole body: several lines (a stack trace) as a preformatted block. */
export function FullBody({ body }: { body: string }) {
  if (!body.includes('\n')) return <pre className="log-full-body">{body}</pre>;
  return (
    <pre className="stacktrace" data-testid="body-block">
      {body}
    </pre>
  );
}
