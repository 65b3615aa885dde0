import { Catch } from '@nestjs/common';
import { PushExceptionFilter } from '../push/push.filter.js';

/** The push API's error answers for the server API, without counting them as publish requests. */
@Catch()
export class ApiExceptionFilter extends PushExceptionFilter {
  protected override count(): void {}
}
