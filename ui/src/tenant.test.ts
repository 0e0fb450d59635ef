import { afterEach, describe, expect, it, vi } from 'vitest';
import { pickedTenant, pickTenant, staleTenant, tenantError, tenantInput, tenantStorageKey, tenantView } from './tenant';

// localStorage as the browser has it, for one test.
function storage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  });
  return m;
}

afterEach(() => vi.unstubAllGlobals());

describe('tenantError', () => {
  it('accepts what the server accepts', () => {
    for (const id of ['team-a', 'a', "Acme_(prod).eu!*'", 'x'.repeat(150), '...', '0']) expect(tenantError(id), id).toBeNull();
  });
  it('refuses what the server refuses, saying why', () => {
    expect(tenantError('')).toBe('empty tenant id');
    expect(tenantError('x'.repeat(151))).toBe('tenant id of 151 characters: at most 150');
    expect(tenantError('.')).toBe('tenant id "." is not allowed');
    expect(tenantError('..')).toBe('tenant id ".." is not allowed');
    expect(tenantError('team a')).toContain('character " " is not allowed');
    expect(tenantError('team/a')).toContain('character "/" is not allowed');
    expect(tenantError('équipe')).toContain('character "é" is not allowed');
  });
});

describe('picked tenant', () => {
  it('is kept in localStorage; empty is the default tenant', () => {
    const m = storage();
    expect(pickedTenant()).toBe('');
    pickTenant('team-a');
    expect(m.get(tenantStorageKey)).toBe('team-a');
    expect(pickedTenant()).toBe('team-a');
    pickTenant('');
    expect(m.has(tenantStorageKey)).toBe(false);
    expect(pickedTenant()).toBe('');
  });
  it('is not used when the server would refuse it', () => {
    storage({ [tenantStorageKey]: 'team a' });
    expect(pickedTenant()).toBe('');
  });
  it('is the default tenant without storage', () => {
    vi.stubGlobal('localStorage', undefined);
    expect(pickedTenant()).toBe('');
    pickTenant('team-a'); // no error
  });
});

describe('tenantView', () => {
  it('shows nothing with tenants off', () => {
    expect(tenantView(null, { tenants_enabled: false }, null, '')).toEqual({ mode: 'off' });
    expect(tenantView({}, {}, null, 'team-a')).toEqual({ mode: 'off' }); // the header is ignored then
  });
  it('shows the tenant of a bound session as text', () => {
    expect(tenantView({ tenant: 'team-a' }, { tenant: 'team-a', tenants_enabled: true }, null, '')).toEqual({ mode: 'fixed', tenant: 'team-a' });
    expect(tenantView({ tenant: 'team-a' }, null, '403 Forbidden', '')).toEqual({ mode: 'fixed', tenant: 'team-a' });
  });
  it('gives operators a picker', () => {
    expect(tenantView(null, { tenant: 'default', tenants_enabled: true }, null, '')).toEqual({ mode: 'picker', acting: 'default', picked: '' });
    expect(tenantView({}, { tenant: 'team-b', tenants_enabled: true }, null, 'team-b')).toEqual({ mode: 'picker', acting: 'team-b', picked: 'team-b' });
  });
  it('keeps the picker when the picked tenant was refused, so that it can be changed', () => {
    expect(tenantView(null, null, '403 Forbidden: 100 tenants', 'team-z')).toEqual({ mode: 'picker', acting: '', picked: 'team-z', error: '403 Forbidden: 100 tenants' });
    expect(tenantView(null, null, 'cannot reach the Loupe server', '')).toEqual({ mode: 'off' });
  });
});

describe('tenantInput', () => {
  it('switches to a valid tenant, or back to the default one', () => {
    expect(tenantInput('team-a', '')).toEqual({ pick: 'team-a' });
    expect(tenantInput(' team-b ', 'team-a')).toEqual({ pick: 'team-b' });
    expect(tenantInput('', 'team-a')).toEqual({ pick: '' });
  });
  it('does nothing for the picked tenant', () => {
    expect(tenantInput('team-a', 'team-a')).toBeNull();
    expect(tenantInput('  ', '')).toBeNull();
  });
  it('refuses what the server would', () => {
    expect(tenantInput('team/a', '')).toEqual({ error: tenantError('team/a') });
  });
});

describe('staleTenant', () => {
  it('is a pick that a bound session may not use', () => {
    expect(staleTenant({ tenant: 'team-a' }, 'team-b')).toBe(true);
    expect(staleTenant({ tenant: 'team-a' }, 'team-a')).toBe(false);
    expect(staleTenant({ tenant: 'team-a' }, '')).toBe(false);
    expect(staleTenant({}, 'team-b')).toBe(false);
    expect(staleTenant(null, 'team-b')).toBe(false);
  });
});
