-- Argo CD health check for agentcore.dev/CodeInterpreterSession (agentcore-operator).
--
-- Progressing  the operator has not yet written status for metadata.generation; Pending
--              (CheckingInterpreter, InterpreterNotReady, QuotaExceeded, Throttled, ...: the
--              operator retries them by itself); Starting; Stopping; a Terminated resource that
--              is being deleted; a phase this script does not know (a newer operator).
-- Healthy      Ready: the session is usable until status.expiresAt. Also during a renewal
--              (restartPolicy Always, the Handover condition True): status.sessionId is Ready
--              all along, the successor is started, or the predecessor drains.
-- Degraded     Failed: the session cannot start until someone acts (InvalidSpec,
--              InterpreterFailed, InterpreterNotFound, InvalidRequest; AccessDenied is retried
--              and heals once IAM allows the call).
--              Stopping with StopFailed: deletion is stuck until AWS allows the Stop or
--              spec.deletionPolicy is set to Retain.
--              Terminated (SessionExpired, SessionStopped). Expiry is the normal end of a
--              session, but the resource declares "a live session", and that is no longer true
--              and never will be again: with restartPolicy Never the operator does not restart
--              ended sessions. Healthy
--              would hide that an application depending on the session has lost it; Suspended
--              means "paused, resumable"; Degraded is what makes Argo CD (and its
--              notifications) tell the owner to act: delete the resource (Argo CD re-creates it,
--              and the operator starts a new session), set restartPolicy Always, or remove it
--              from Git. With restartPolicy Always a Terminated resource is being restarted
--              (Progressing), as are Pending (RestartBackOff) and Starting after a restart.
--
-- Argo CD itself answers Progressing "Pending deletion" for any object with a deletionTimestamp
-- before it runs this script; the Stopping and deleting branches serve other callers of the
-- script (argocd admin settings resource-overrides health, tools that reuse Argo CD checks).
--
-- Uses only the base library (no string.*): Argo CD runs health scripts without the Lua
-- standard libraries unless resource.customizations.useOpenLibs is set. Lua 5.1 (gopher-lua).
local hs = {}

local function ready_condition(status)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

-- "Reason: message" from the Ready condition, else the status message, else the fallback.
local function describe(status, fallback)
  local condition = ready_condition(status)
  if condition ~= nil and condition.reason ~= nil and condition.reason ~= "" then
    local message = condition.message or status.message
    if message == nil or message == "" then
      return condition.reason
    end
    return condition.reason .. ": " .. message
  end
  return status.message or fallback
end

local function condition_of(status, kind)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function reason_of(status)
  local condition = ready_condition(status)
  if condition == nil then
    return nil
  end
  return condition.reason
end

local metadata = obj.metadata or {}
local status = obj.status
local generation = metadata.generation

if status == nil or status.phase == nil or status.observedGeneration == nil
    or (generation ~= nil and status.observedGeneration < generation) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the operator to observe generation " .. generation
  else
    hs.message = "Waiting for the operator to observe the resource"
  end
  return hs
end

local phase = status.phase
if phase == "Ready" then
  hs.status = "Healthy"
  hs.message = "Session " .. (status.sessionId or "?") .. " is ready until " .. (status.expiresAt or "?")
  local handover = condition_of(status, "Handover")
  if handover ~= nil and handover.status == "True" then
    hs.message = hs.message .. " (renewing: " .. (handover.message or handover.reason or "") .. ")"
  end
elseif phase == "Pending" or phase == "Starting" then
  -- QuotaExceeded and Throttled included: the operator waits and retries.
  hs.status = "Progressing"
  hs.message = describe(status, phase)
elseif phase == "Stopping" then
  if reason_of(status) == "StopFailed" then
    hs.status = "Degraded"
  else
    hs.status = "Progressing"
  end
  hs.message = describe(status, phase)
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(status, "The session cannot start")
elseif phase == "Terminated" then
  local spec = obj.spec or {}
  if metadata.deletionTimestamp ~= nil then
    hs.status = "Progressing"
    hs.message = describe(status, "The session ended") .. " (the resource is being deleted)"
  elseif spec.restartPolicy == "Always" then
    hs.status = "Progressing"
    hs.message = describe(status, "The session ended") .. " (restartPolicy Always: restarting)"
  else
    hs.status = "Degraded"
    hs.message = describe(status, "The session ended")
      .. " (to get a new session, set restartPolicy Always, or delete the resource and let Argo CD re-create it)"
  end
else
  hs.status = "Progressing"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
