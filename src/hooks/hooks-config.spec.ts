import { loadConfig } from '../config/config.js';
import { configProblems as problems } from '../../test/harness/config-problems.js';

describe('hook settings', () => {
  it('no hooks by default; the timeout and fail-open defaults apply to in-process hooks too', () => {
    expect(loadConfig({}).hooks).toEqual({ enabled: [], secret: '', timeoutMs: 2000, failOpen: false });
  });

  it('HOOK_URL with HOOKS and HOOK_SECRET', () => {
    const c = loadConfig({
      HOOK_URL: 'http://127.0.0.1:3000/hooks/',
      HOOKS: 'publish, join,publish',
      HOOK_SECRET: 'hook-secret',
      HOOK_TIMEOUT_MS: '500',
      HOOK_FAIL_OPEN: 'true',
    });
    expect(c.hooks).toEqual({
      url: 'http://127.0.0.1:3000/hooks',
      enabled: ['publish', 'join'],
      secret: 'hook-secret',
      timeoutMs: 500,
      failOpen: true,
    });
  });

  it('names each missing or bad piece', () => {
    expect(problems({ HOOK_URL: 'http://h' })).toEqual([
      'HOOKS: name the hooks HOOK_URL answers, comma-separated: connect, join, publish',
      'HOOK_URL needs HOOK_SECRET (the key hook requests are signed with)',
    ]);
    expect(problems({ HOOK_URL: 'ftp://h', HOOKS: 'connect,subscribe', HOOK_SECRET: 's' })).toEqual([
      'HOOK_URL="ftp://h": expected http://host[:port][/path] or https://…',
      'HOOKS: unknown hook "subscribe" (expected connect, join, publish)',
    ]);
    expect(problems({ HOOKS: 'publish' })).toEqual(['HOOKS is set but HOOK_URL is not: set both or neither']);
    expect(
      problems({
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(32),
        HOOK_URL: 'https://h',
        HOOKS: 'join',
        HOOK_SECRET: 'short',
      }),
    ).toEqual(['HOOK_SECRET: at least 32 characters in production']);
  });
});
