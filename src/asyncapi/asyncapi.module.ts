import { Module } from '@nestjs/common';
import { AsyncApiController } from './asyncapi.controller.js';

/** Serves the generated AsyncAPI document of the wire protocol. */
@Module({ controllers: [AsyncApiController] })
export class AsyncApiModule {}
