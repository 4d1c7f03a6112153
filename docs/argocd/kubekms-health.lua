-- Argo CD health check for the kubekms.io kinds KmsKey, KmsAlias and KmsGrant (docs/argocd.md). Argo CD passes the
-- object as the global `obj`; the script returns {status, message}. Plain Lua 5.1 (Argo CD's interpreter), no
-- libraries: tested with lua5.1 and lua5.4 by test/unit/argocd-health.test.ts.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

-- Ready=False while the object waits for another one (the operator keeps trying): Progressing.
local WAITING = { Provisioning = true, KeyNotReady = true, TargetKeyNotReady = true }

-- Ready=False by the owner's choice (spec.enabled: false, a scheduled deletion): Suspended. Everything else that is
-- False is a refusal that needs a change to the object or to what it refers to: Degraded.
local function intended(reason)
  if obj.kind == "KmsKey" then
    -- kubekms's own cluster-managed key (the Secrets key mirror) is never meant to be disabled.
    if obj.status.keyManager == "CLUSTER" then
      return false
    end
    if reason == "KeyDisabled" then
      return obj.spec ~= nil and obj.spec.enabled == false
    end
    return reason == "PendingDeletion"
  end
  -- A grant on a key that its owner disabled is held until the key is enabled again.
  return obj.kind == "KmsGrant" and reason == "KeyDisabled"
end

-- The re-encryption after a rotation of the Secrets key (docs/rotation.md), on that key's KmsKey only.
local function reencryption()
  local c = condition("Reencrypted")
  if c == nil or c.status == "True" then
    return nil
  end
  if c.reason == "WaitingForApiservers" or c.reason == "InProgress" then
    return { status = "Progressing", message = describe(c) }
  end
  return { status = "Degraded", message = describe(c) }
end

local ready = condition("Ready")
local generation = obj.metadata.generation
local observed = nil
if ready ~= nil then
  observed = ready.observedGeneration
end
if observed == nil and obj.status ~= nil then
  observed = obj.status.observedGeneration
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the kubekms operator to reconcile this " .. obj.kind
elseif generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "the kubekms operator has not reconciled generation " .. generation .. " yet (status is of generation "
    .. observed .. ")"
elseif ready.status == "True" then
  local r = nil
  if obj.kind == "KmsKey" then
    r = reencryption()
  end
  if r ~= nil then
    hs.status = r.status
    hs.message = r.message
  else
    hs.status = "Healthy"
    hs.message = describe(ready)
  end
elseif ready.status ~= "False" then
  hs.status = "Progressing"
  hs.message = describe(ready)
elseif WAITING[ready.reason] then
  hs.status = "Progressing"
  hs.message = describe(ready)
elseif intended(ready.reason) then
  hs.status = "Suspended"
  hs.message = describe(ready)
else
  hs.status = "Degraded"
  hs.message = describe(ready)
end
return hs
