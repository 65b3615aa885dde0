import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
@Module({})
class M {}
const app = await NestFactory.create(M);
await app.listen(0);
console.log('ok', app.getHttpServer().address());
await app.close();
