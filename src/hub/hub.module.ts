import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module.js';
import { HubService } from './hub.service.js';

@Module({
  imports: [ClusterModule],
  providers: [HubService],
  exports: [HubService],
})
export class HubModule {}
