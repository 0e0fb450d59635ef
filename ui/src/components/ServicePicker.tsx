// A multi-select of service names: known services from the traces API, or any typed name.
import { useState } from 'react';
import { getJSON } from '../api';
import { useAsync } from './hooks';

export function useServices() {
  return useAsync('services', (signal) => getJSON<string[]>('/api/loupe/v1/services', undefined, signal));
}

export function ServicePicker({ selected, onChange }: { selected: string[]; onChange: (s: string[]) => void }) {
  const services = useServices();
  const [draft, setDraft] = useState('');
  const add = (v: string) => {
    v = v.trim();
    if (v && !selected.includes(v)) onChange([...selected, v]);
    setDraft('');
  };
  return (
    <div className="service-picker" data-testid="service-picker">
      {selected.map((s) => (
        <span key={s} className="chip">
          {s}
          <button type="button" className="link-btn" title={`Remove ${s}`} onClick={() => onChange(selected.filter((x) => x !== s))}>
            ×
          </button>
        </span>
      ))}
      <input
        list="loupe-services"
        placeholder={selected.length ? '+ service' : 'Any service'}
        value={draft}
        data-testid="service-input"
        onChange={(e) => {
          const v = e.target.value;
          // Picking from the datalist fires a change with a full known name: add it at once.
          if (services.data?.includes(v)) add(v);
          else setDraft(v);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && draft.trim()) {
            e.preventDefault();
            add(draft);
          }
        }}
      />
      <datalist id="loupe-services">
        {(services.data ?? []).map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
    </div>
  );
}
