// The shell: navigation, theme toggle and the page chosen by the URL path.
import { lazy, Suspense, useEffect, useState, type ComponentType } from 'react';
import { navigate, onLinkClick, useLocation } from './router';
import { graphRedirect } from './alerts';
import { useAutoRefresh } from './components/TimeRange';
import { Spinner } from './components/States';
import { SignIn } from './SignIn';
import { onUnauthorized, signedIn, signOut } from './session';
import { Tenant } from './components/Tenant';

// Pages load on demand (a chunk each, fetched from /assets/ on the first visit of the page),
// so the first load carries the shell and one page instead of the whole app.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lazyPage<K extends string>(load: () => Promise<Record<K, ComponentType<any>>>, name: K) {
  return lazy(() => load().then((m) => ({ default: m[name] })));
}
const LogsPage = lazyPage(() => import('./pages/Logs'), 'LogsPage');
const TracesPage = lazyPage(() => import('./pages/Traces'), 'TracesPage');
const TracePage = lazyPage(() => import('./pages/Trace'), 'TracePage');
const MetricsPage = lazyPage(() => import('./pages/Metrics'), 'MetricsPage');
const ServicesPage = lazyPage(() => import('./pages/Services'), 'ServicesPage');
const ServicePage = lazyPage(() => import('./pages/Service'), 'ServicePage');
const RunsPage = lazyPage(() => import('./pages/Runs'), 'RunsPage');
const RunPage = lazyPage(() => import('./pages/Run'), 'RunPage');
const ComparePage = lazyPage(() => import('./pages/Compare'), 'ComparePage');
const ErrorsPage = lazyPage(() => import('./pages/Errors'), 'ErrorsPage');
const IssuePage = lazyPage(() => import('./pages/Issue'), 'IssuePage');
const AlertsPage = lazyPage(() => import('./pages/Alerts'), 'AlertsPage');
const ProfilesPage = lazyPage(() => import('./pages/Profiles'), 'ProfilesPage');
const DashboardsPage = lazyPage(() => import('./pages/Dashboards'), 'DashboardsPage');
const DashboardPage = lazyPage(() => import('./pages/Dashboard'), 'DashboardPage');

const nav = [
  { path: '/logs', label: 'Logs' },
  { path: '/traces', label: 'Traces' },
  { path: '/query', label: 'Metrics' },
  { path: '/dashboards', label: 'Dashboards' },
  { path: '/services', label: 'Services' },
  { path: '/errors', label: 'Errors' },
  { path: '/profiles', label: 'Profiles' },
  { path: '/runs', label: 'Runs' },
  { path: '/alerts', label: 'Alerts' },
];

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(document.documentElement.dataset.theme || 'dark');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return [
    theme,
    () => {
      const next = theme === 'dark' ? 'light' : 'dark';
      localStorage.setItem('loupe.theme', next);
      setTheme(next);
    },
  ];
}

/**
 * Redirect replaces the current history entry with to. It navigates on the next task: on a
 * first load its effect runs before App's useLocation has subscribed, which would miss it.
 */
function Redirect({ to }: { to: string }) {
  useEffect(() => {
    const t = window.setTimeout(() => navigate(to, true));
    return () => window.clearTimeout(t);
  }, [to]);
  return null;
}

export function App() {
  const loc = useLocation();
  const [theme, toggleTheme] = useTheme();
  const path = loc.path === '/' ? '/logs' : loc.path;
  useAutoRefresh(loc.params.get('refresh'));
  // Set when an API call answered 401: the sign-in page then replaces every page.
  const [signInReason, setSignInReason] = useState<string | null>(null);
  useEffect(() => onUnauthorized(setSignInReason), []);

  let page;
  let m: RegExpExecArray | null;
  if (path === '/logs') page = <LogsPage params={loc.params} />;
  else if (path === '/traces') page = <TracesPage params={loc.params} />;
  else if ((m = /^\/traces\/([^/]+)$/.exec(path))) page = <TracePage id={decodeURIComponent(m[1])} params={loc.params} />;
  else if (path === '/query') page = <MetricsPage params={loc.params} />;
  // Prometheus' graph links (the generatorURL of alerts in notifications: /graph?g0.expr=...).
  else if (path === '/graph') page = <Redirect to={graphRedirect(loc.params)} />;
  else if (path === '/services') page = <ServicesPage params={loc.params} />;
  else if ((m = /^\/services\/(.+)$/.exec(path))) page = <ServicePage service={decodeURIComponent(m[1])} params={loc.params} />;
  else if (path === '/errors') page = <ErrorsPage params={loc.params} />;
  else if ((m = /^\/errors\/([^/]+)$/.exec(path))) page = <IssuePage key={m[1]} id={decodeURIComponent(m[1])} params={loc.params} />;
  else if (path === '/alerts') page = <AlertsPage params={loc.params} />;
  else if (path === '/dashboards') page = <DashboardsPage params={loc.params} />;
  else if ((m = /^\/dashboards\/([^/]+)$/.exec(path))) page = <DashboardPage key={m[1]} uid={decodeURIComponent(m[1])} params={loc.params} />;
  else if (path === '/profiles') page = <ProfilesPage params={loc.params} />;
  else if (path === '/runs') page = <RunsPage params={loc.params} />;
  else if (path === '/runs/compare') page = <ComparePage params={loc.params} />;
  else if ((m = /^\/runs\/([^/]+)$/.exec(path))) page = <RunPage key={m[1]} id={decodeURIComponent(m[1])} />;
  else
    page = (
      <div className="page">
        <div className="empty-state">
          <h3>Page not found</h3>
          <p>
            There is nothing at <code>{loc.path}</code>. Try <a href="/logs" onClick={onLinkClick}>Logs</a>.
          </p>
        </div>
      </div>
    );

  if (signInReason !== null) page = <SignIn reason={signInReason} />;

  // The theme is part of the key so that charts rebuild with the new axis colours.
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="/" onClick={onLinkClick}>
          <svg width="18" height="18" viewBox="0 0 16 16" aria-hidden="true">
            <circle cx="6.5" cy="6.5" r="4.5" fill="none" stroke="currentColor" strokeWidth="2" />
            <path d="M10 10l4.5 4.5" stroke="currentColor" strokeWidth="2" />
          </svg>
          Loupe
        </a>
        <nav>
          {nav.map((n) => (
            <a key={n.path} href={n.path} onClick={onLinkClick} className={path.startsWith(n.path) ? 'active' : ''}>
              {n.label}
            </a>
          ))}
        </nav>
        <div className="spacer" />
        {signInReason === null && <Tenant />}
        <button className="btn ghost" data-testid="theme-toggle" onClick={toggleTheme} title="Switch between dark and light theme">
          {theme === 'dark' ? '☀ Light' : '☾ Dark'}
        </button>
        {signedIn() && (
          <button className="btn ghost" data-testid="sign-out" title="End this browser's session"
            onClick={() => signOut().then(() => window.location.reload())}>
            Sign out
          </button>
        )}
      </header>
      <main key={theme}>
        <Suspense fallback={<Spinner label="Loading…" />}>{page}</Suspense>
      </main>
    </div>
  );
}
