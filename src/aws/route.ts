/**
 * Routing: the AWS API is served at `POST /`; `X-Amz-Target: TrentService.<Operation>` names an operation of the
 * AWS model (else UnknownOperationException), which the operation table implements (else
 * UnsupportedOperationException).
 */
import { AwsError } from './errors.ts';
import { MODEL, type Operation, TARGET_PREFIX } from './model/model.ts';
import { type Handler, unsupported } from './ops/types.ts';

/** Refuses any method or path but `POST /` (a query string is tolerated, as AWS does). */
export function checkEndpoint(method: string | undefined, url: string): void {
  if (method !== 'POST' || (url !== '/' && !url.startsWith('/?'))) {
    throw new AwsError('UnknownOperationException', 'The AWS KMS API is served at POST /');
  }
}

/** The operation an `X-Amz-Target` names, with its model. */
export function operationOf(target: string): { readonly name: string; readonly model: Operation } {
  const dot = target.indexOf('.');
  const name = dot < 0 ? '' : target.slice(dot + 1);
  const model = Object.hasOwn(MODEL.operations, name) ? MODEL.operations[name] : undefined;
  if (target.slice(0, dot) !== TARGET_PREFIX || !model) {
    throw new AwsError(
      'UnknownOperationException',
      `Unknown operation ${JSON.stringify(target.slice(0, 128))}`,
    );
  }
  return { name, model };
}

/** The handler of a modelled operation, when kubekms implements it. */
export function handlerOf(name: string, operations: Readonly<Record<string, Handler>>): Handler {
  const handler = Object.hasOwn(operations, name) ? operations[name] : undefined;
  if (!handler) throw unsupported(name);
  return handler;
}
