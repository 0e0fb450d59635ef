import { createRoot } from 'react-dom/client';
import { App } from './App';
import './styles.css';

// Marks the first render of each page for the browser tests' timing (performance.mark).
performance.mark('loupe-boot');
createRoot(document.getElementById('root')!).render(<App />);
