import { createRoot } from 'react-dom/client';
import { App } from './App';
import { installFetch } from './session';
import './styles.css';

// Marks the first render of each page for the browser tests' timing (performance.mark).
performance.mark('loupe-boot');
installFetch(); // before the first render's requests: CSRF header, 401 -> sign-in page
createRoot(document.getElementById('root')!).render(<App />);
