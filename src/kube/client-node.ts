/**
 * KubeClient on @kubernetes/client-node 2.x, composed of its parts: custom objects (objects-node.ts), Leases
 * (leases-node.ts), Events and namespaces (here). Every error is normalized to KubeApiError.
 */
import {
  CoreV1Api,
  EventsV1Api,
  type EventsV1Event,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { call } from './call-node.ts';
import type { EventBody, EventSink, KubeClient, Namespaces } from './client.ts';
import { isKubeCode, isNotFound } from './errors.ts';
import { nodeLeases } from './leases-node.ts';
import { nodeObjects } from './objects-node.ts';

export function nodeKubeClient(kc: KubeConfig): KubeClient {
  return { ...nodeObjects(kc), ...nodeLeases(kc), ...nodeEvents(kc), ...nodeNamespaces(kc) };
}

function nodeEvents(kc: KubeConfig): EventSink {
  const events = kc.makeApiClient(EventsV1Api);
  return {
    async createEvent(body: EventBody): Promise<void> {
      const namespace = body.metadata.namespace;
      // MicroTime fields stay strings (the generated serializer would print a Date with three fractional digits).
      await call(() => events.createNamespacedEvent({ namespace, body: body as unknown as EventsV1Event }));
    },

    async patchEventSeries(namespace: string, name: string, series: EventBody['series']): Promise<void> {
      await call(() =>
        events.patchNamespacedEvent(
          { namespace, name, body: { series } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
    },
  };
}

function nodeNamespaces(kc: KubeConfig): Namespaces {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async ensureNamespace(name: string): Promise<void> {
      try {
        await call(() => core.readNamespace({ name }));
      } catch (e) {
        if (!isNotFound(e)) throw e;
        try {
          await call(() => core.createNamespace({ body: { metadata: { name } } }));
        } catch (e2) {
          if (!isKubeCode(e2, 409)) throw e2;
        }
      }
    },
  };
}
