/**
 * The operation table: every implemented AWS KMS operation and its handler. Operations of the model that are
 * not in this table answer UnsupportedOperationException; names that are not in the model answer
 * UnknownOperationException.
 */
import { CreateAlias, DeleteAlias, ListAliases, UpdateAlias } from './ops/aliases.ts';
import {
  GenerateDataKey,
  GenerateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext,
  GenerateDataKeyWithoutPlaintext,
  GenerateRandom,
} from './ops/datakey.ts';
import { Decrypt, Encrypt, ReEncrypt } from './ops/encrypt.ts';
import { CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant } from './ops/grants.ts';
import {
  CancelKeyDeletion,
  CreateKey,
  DescribeKey,
  DisableKey,
  EnableKey,
  ListKeys,
  ScheduleKeyDeletion,
  UpdateKeyDescription,
} from './ops/keys.ts';
import { GenerateMac, VerifyMac } from './ops/mac.ts';
import { GetKeyPolicy, ListKeyPolicies, PutKeyPolicy } from './ops/policy.ts';
import {
  DisableKeyRotation,
  EnableKeyRotation,
  GetKeyRotationStatus,
  ListKeyRotations,
  RotateKeyOnDemand,
} from './ops/rotation.ts';
import { DeriveSharedSecret, GetPublicKey, Sign, Verify } from './ops/sign.ts';
import { ListResourceTags, TagResource, UntagResource } from './ops/tags.ts';
import type { Handler } from './ops/types.ts';

export const OPERATIONS: Readonly<Record<string, Handler>> = {
  Encrypt,
  Decrypt,
  ReEncrypt,
  GenerateDataKey,
  GenerateDataKeyWithoutPlaintext,
  GenerateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext,
  GenerateRandom,
  Sign,
  Verify,
  GenerateMac,
  VerifyMac,
  GetPublicKey,
  DeriveSharedSecret,
  CreateKey,
  DescribeKey,
  ListKeys,
  EnableKey,
  DisableKey,
  ScheduleKeyDeletion,
  CancelKeyDeletion,
  UpdateKeyDescription,
  EnableKeyRotation,
  DisableKeyRotation,
  GetKeyRotationStatus,
  RotateKeyOnDemand,
  ListKeyRotations,
  CreateAlias,
  UpdateAlias,
  DeleteAlias,
  ListAliases,
  CreateGrant,
  ListGrants,
  ListRetirableGrants,
  RetireGrant,
  RevokeGrant,
  GetKeyPolicy,
  PutKeyPolicy,
  ListKeyPolicies,
  TagResource,
  UntagResource,
  ListResourceTags,
};
