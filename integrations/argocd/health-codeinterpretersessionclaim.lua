-- Argo CD health check for agentcore.dev/CodeInterpreterSessionClaim (agentcore-operator).
--
-- Progressing  the operator has not yet written status for metadata.generation; Pending
--              (Starting: a session is being started for the claim, none was free in the pool;
--              PoolNotFound: the pool does not exist yet, the claim binds once it does); a phase
--              this script does not know (a newer operator).
-- Healthy      Bound: status.sessionId is the claim's, Ready until status.expiresAt.
-- Degraded     Failed: Unbound (no Ready session within spec.ttlSecondsUnbound), SessionEnded
--              (the bound session expired or was deleted: the claim will not get another),
--              InvalidSpec. Nothing changes until someone acts.
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
if phase == "Bound" then
  hs.status = "Healthy"
  hs.message = "Bound to session " .. (status.sessionName or "?") .. " (" .. (status.sessionId or "?")
      .. ", " .. (status.launchType or "?") .. ")"
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(status, "The claim cannot be bound")
elseif phase == "Pending" then
  hs.status = "Progressing"
  hs.message = describe(status, phase)
else
  hs.status = "Progressing"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
