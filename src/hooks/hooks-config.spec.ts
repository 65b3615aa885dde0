import { loadConfig } from '../config/config.js';
import { configProblems as problems } from '../../test/harness/config-problems.js';

describe('hook settings', () => {
  it('no hooks by default; the timeout and fail-open defaults apply to in-process hooks too', () => {
    expect(loadConfig({}).hooks).toEqual({
      enabled: [],
      secret: '',
      timeoutMs: 2000,
      failOpen: false,
      publishBatch: 1,
      publishMaxPending: 16,
    });
  });

  it('HOOK_URL with HOOKS and HOOK_SECRET', () => {
    const c = loadConfig({
      HOOK_URL: 'http://127.0.0.1:3000/hooks/',
      HOOKS: 'publish, join,publish',
      HOOK_SECRET: 'hook-secret',
      HOOK_TIMEOUT_MS: '500',
      HOOK_FAIL_OPEN: 'true',
      HOOK_PUBLISH_BATCH: '100',
      HOOK_PUBLISH_MAX_PENDING: '64',
    });
    expect(c.hooks).toEqual({
      url: 'http://127.0.0.1:3000/hooks',
      enabled: ['publish', 'join'],
      secret: 'hook-secret',
      timeoutMs: 500,
      failOpen: true,
      publishBatch: 100,
      publishMaxPending: 64,
    });
  });

  it('HOOK_PUBLISH_BATCH: 1 and 0 are both one request per message; up to 1000', () => {
    const batch = (v: string) => loadConfig({ HOOK_PUBLISH_BATCH: v }).hooks.publishBatch;
    expect(batch('0')).toBe(1);
    expect(batch('1')).toBe(1);
    expect(batch('1000')).toBe(1000);
    expect(problems({ HOOK_PUBLISH_BATCH: '1001' })).toEqual([
      'HOOK_PUBLISH_BATCH=1001: expected a whole number between 0 and 1000',
    ]);
    expect(problems({ HOOK_PUBLISH_BATCH: 'many' })).toEqual([
      'HOOK_PUBLISH_BATCH="many": expected a whole number between 0 and 1000',
    ]);
    expect(problems({ HOOK_PUBLISH_MAX_PENDING: '0' })).toEqual([
      'HOOK_PUBLISH_MAX_PENDING=0: expected a whole number between 1 and 10000',
    ]);
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
