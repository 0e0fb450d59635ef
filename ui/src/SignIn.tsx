// The sign-in page, shown in place of any page whose API call answered 401. Kept small: it
// is part of the first load.
import { useState, type FormEvent } from 'react';
import { signIn } from './session';

export function SignIn({ reason }: { reason: string }) {
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    const err = await signIn(mode === 'token' ? { token: token.trim() } : { user: user.trim(), password });
    if (err === null) {
      // A reload starts every page and cache afresh, now with the session cookie.
      window.location.reload();
      return;
    }
    setError(err);
    setBusy(false);
  };
  // The server's reason is worth showing when it says why a session ended; its generic
  // "authentication required" is about API clients' headers.
  const why = reason && !reason.startsWith('authentication required') ? reason.trim() : '';

  return (
    <div className="page">
      <form className="empty-state" data-testid="signin-form" onSubmit={submit}
        style={{ maxWidth: 380, margin: '48px auto', display: 'flex', flexDirection: 'column', gap: 12 }}>
        <h3>Sign in to Loupe</h3>
        {why && <p className="muted" data-testid="signin-reason" style={{ margin: 0 }}>{why}</p>}
        <div className="btn-group" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'password'} className={`btn small${mode === 'password' ? ' primary' : ''}`}
            data-testid="signin-mode-password" onClick={() => setMode('password')}>User and password</button>
          <button type="button" role="tab" aria-selected={mode === 'token'} className={`btn small${mode === 'token' ? ' primary' : ''}`}
            data-testid="signin-mode-token" onClick={() => setMode('token')}>API token</button>
        </div>
        {mode === 'password' ? (
          <>
            <label className="field">User
              <input data-testid="signin-user" autoComplete="username" autoFocus required value={user} onChange={(e) => setUser(e.target.value)} />
            </label>
            <label className="field">Password
              <input data-testid="signin-password" type="password" autoComplete="current-password" required value={password}
                onChange={(e) => setPassword(e.target.value)} />
            </label>
          </>
        ) : (
          <label className="field">Token with the read scope (<code>loupe token create</code>)
            <input data-testid="signin-token" type="password" autoComplete="off" autoFocus required value={token} onChange={(e) => setToken(e.target.value)} />
          </label>
        )}
        <button className="btn primary" type="submit" data-testid="signin-submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {error && (
          <div className="error-box" role="alert" data-testid="signin-error">
            <strong>Not signed in</strong>
            <pre>{error}</pre>
          </div>
        )}
      </form>
    </div>
  );
}
