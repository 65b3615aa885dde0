import { Controller, Get, Header } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { buildAsyncApiDocument } from './asyncapi-document.js';

/** GET /asyncapi.json: the wire contract as an AsyncAPI 3 document, built once from the wire module. */
@Controller()
export class AsyncApiController {
  private readonly body = JSON.stringify(buildAsyncApiDocument(packageVersion()));

  @Get('asyncapi.json')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  document(): string {
    return this.body;
  }
}

/** The version in package.json (two levels up from both src/asyncapi/ and dist/asyncapi/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
