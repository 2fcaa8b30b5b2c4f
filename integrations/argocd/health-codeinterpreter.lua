-- Argo CD health check for agentcore.dev/CodeInterpreter (agentcore-operator).
--
-- Progressing  the operator has not yet written status for metadata.generation; Creating
--              (Creating, Adopting, and the errors the operator retries by itself: Throttled,
--              QuotaExceeded, AccessDenied, ...); Deleting (Deleting, and InUse: sessions still
--              reference the interpreter; it is deleted once they are gone); a phase this
--              script does not know (a newer operator).
-- Healthy      Ready: sessions can start on status.codeInterpreterId.
-- Degraded     Failed: nothing changes until someone acts (InvalidSpec, CreateFailed with
--              AgentCore's failureReason, NotFound, DeletedOutOfBand, InvalidRequest).
--              Deleting with DeleteFailed: deletion is stuck until AWS allows the Delete or
--              spec.deletionPolicy is set to Retain.
--
-- Uses only the base library (no string.*), as Argo CD runs health scripts. Lua 5.1.
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

local metadata = obj.metadata or {}
local status = obj.status
local generation = metadata.generation

if status == nil or status.phase == nil or status.observedGeneration == nil
    or (generation ~= nil and status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation or "?")
  return hs
end

local phase = status.phase
local condition = ready_condition(status) or {}
if phase == "Ready" then
  hs.status = "Healthy"
  hs.message = "Code interpreter " .. (status.codeInterpreterId or "?") .. " is ready"
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(status, "The code interpreter cannot be used")
elseif phase == "Deleting" and condition.reason == "DeleteFailed" then
  hs.status = "Degraded"
  hs.message = describe(status, phase)
elseif phase == "Creating" or phase == "Deleting" then
  hs.status = "Progressing"
  hs.message = describe(status, phase)
else
  hs.status = "Progressing"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
