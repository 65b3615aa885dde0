import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { configProblems as problems } from '../../test/harness/config-problems.js';

describe('loadConfig', () => {
  it('runs with no settings at all in development: dev tokens on, a generated secret', () => {
    const c = loadConfig({});
    expect(c.production).toBe(false);
    expect(c.devTokens).toBe(true);
    expect(c.jwt.secretGenerated).toBe(true);
    expect(c.jwt.verifyKey.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}).jwt.verifyKey).not.toBe(c.jwt.verifyKey);
    expect(c).toMatchObject({
      port: 8080,
      maxConnections: 100000,
      maxConnectionsPerIp: 1000,
      maxConnectionsPerUser: 20,
      maxMessageBytes: 8192,
      maxContentLength: 1000,
      ratePerSec: 10,
      sendQueueMessages: 256,
      sendQueueBytes: 1048576,
      heartbeatMs: 30000,
      historySize: 100,
      dedupWindowMs: 120000,
      presenceMaxMembers: 1000,
      headerTimeoutMs: 10000,
      allowedOrigins: null,
      trustProxy: false,
    });
  });

  it('refuses production without key material, and keeps dev tokens off there by default', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      'NODE_ENV=production needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256)',
    ]);
    expect(problems({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toEqual([
      'JWT_SECRET: at least 32 characters in production',
    ]);
    const c = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) });
    expect(c.devTokens).toBe(false);
    expect(c.jwt.secretGenerated).toBe(false);
  });

  it('accepts only development, production or test, and has dev tokens in development only', () => {
    expect(problems({ NODE_ENV: 'prod', JWT_SECRET: 'x'.repeat(32) })).toEqual([
      'NODE_ENV="prod": expected one of development, production, test',
    ]);
    const secret = 'x'.repeat(32);
    for (const NODE_ENV of ['production', 'test']) {
      expect(loadConfig({ NODE_ENV, JWT_SECRET: secret, AUTH_DEV_TOKENS: 'true' }).devTokens).toBe(false);
    }
    expect(loadConfig({ NODE_ENV: 'development', JWT_SECRET: secret }).devTokens).toBe(true);
    expect(loadConfig({ JWT_SECRET: secret, AUTH_DEV_TOKENS: 'false' }).devTokens).toBe(false);
  });

  it('names every bad value at once', () => {
    const p = problems({
      PORT: 'eighty',
      RATE_LIMIT_PER_SEC: '0',
      TRUST_PROXY: 'maybe',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'localhost:6379',
    });
    expect(p).toHaveLength(5);
    expect(p.join('\n')).toMatch(/PORT="eighty": expected a whole number/);
    expect(p.join('\n')).toMatch(/RATE_LIMIT_PER_SEC=0/);
    expect(p.join('\n')).toMatch(/TRUST_PROXY="maybe": expected true or false/);
    expect(p.join('\n')).toMatch(/LOG_LEVEL="loud": expected one of/);
    expect(p.join('\n')).toMatch(/REDIS_URL/);
  });

  it('checks key material: one of secret or public key, a real PEM, no dev tokens with a public key', () => {
    expect(problems({ JWT_SECRET: 's', JWT_PUBLIC_KEY: 'k' }).join('\n')).toMatch(/set one, not both/);
    expect(
      problems({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' }).join('\n'),
    ).toMatch(/JWT_PUBLIC_KEY: not a PEM public key/);
    expect(problems({ JWT_SECRET: 'x'.repeat(40), JWT_ALGORITHM: 'none' })).toEqual([
      'JWT_ALGORITHM="none": expected one of HS256',
    ]);
  });

  it('parses lists and zero-means-unlimited limits', () => {
    const c = loadConfig({ ALLOWED_ORIGINS: 'https://a.example/, https://b.example', MAX_CONNECTIONS: '0' });
    expect(c.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.maxConnections).toBe(0);
  });

  it('binds to loopback unless production (dev tokens are on in development), HOST overrides', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), HOST: '::1' }).host).toBe('::1');
  });

  describe('the development secret file', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gw-config-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('is created once (mode 0600) and read back, so tokens survive a restart', () => {
      const file = join(dir, '.dev-secret');
      const first = loadConfig({}, { devSecretFile: file });
      expect(first.jwt).toMatchObject({ secretGenerated: true, devSecret: { file, created: true } });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8').trim()).toBe(first.jwt.verifyKey);
      const second = loadConfig({}, { devSecretFile: file });
      expect(second.jwt.devSecret).toEqual({ file, created: false });
      expect(second.jwt.verifyKey).toBe(first.jwt.verifyKey);
      expect(second.jwt.signKey).toBe(first.jwt.verifyKey);
    });

    it('is not kept on disk with NODE_ENV=test (a restart gets a new key, as tests expect)', () => {
      const saved = { ...process.env };
      try {
        process.env.NODE_ENV = 'test';
        delete process.env.JWT_SECRET;
        delete process.env.JWT_PUBLIC_KEY;
        const c = loadConfig();
        expect(c.jwt.secretGenerated).toBe(true);
        expect(c.jwt.devSecret).toEqual({ created: true });
        expect(loadConfig().jwt.verifyKey).not.toBe(c.jwt.verifyKey);
      } finally {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
        Object.assign(process.env, saved);
      }
    });

    it('is not used when a key is configured, nor in production', () => {
      const file = join(dir, '.dev-secret');
      expect(
        loadConfig({ JWT_SECRET: 's'.repeat(32) }, { devSecretFile: file }).jwt.devSecret,
      ).toBeUndefined();
      expect(problems({ NODE_ENV: 'production' })).toHaveLength(1);
      expect(() => statSync(file)).toThrow();
    });

    it('a damaged file is a configuration problem naming it', () => {
      const file = join(dir, '.dev-secret');
      writeFileSync(file, 'short\n');
      expect(() => loadConfig({}, { devSecretFile: file })).toThrow(
        /\.dev-secret: expected a secret of at least 32 characters; delete the file/,
      );
    });
  });
});
