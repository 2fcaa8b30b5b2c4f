-- Argo CD health check for agentcore.dev/CodeInterpreterSessionPool (agentcore-operator).
--
-- Progressing  the operator has not yet written status for metadata.generation; Filling: free
--              sessions are starting (or waiting for quota) and fewer than spec.replicas can
--              be handed out; a Ready reason this script does not know (a newer operator).
-- Healthy      Ready: status.readyReplicas free sessions (at least spec.replicas) can be taken
--              by claims; also while surplus ones drain after a scale-down (Draining).
-- Degraded     nothing changes until someone acts: InvalidSpec; ChildFailed (the template's
--              sessions fail, e.g. a missing interpreter: the pool retries with a growing
--              back-off); CreateFailed or DeleteFailed (the API server refuses the pool's writes,
--              e.g. RBAC).
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

local metadata = obj.metadata or {}
local status = obj.status
local generation = metadata.generation
local condition = nil
if status ~= nil then
  condition = ready_condition(status)
end

if condition == nil or status.observedGeneration == nil
    or (generation ~= nil and status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation or "?")
  return hs
end

local reason = condition.reason or ""
local message = condition.message or ""
if message ~= "" then
  message = reason .. ": " .. message
elseif reason ~= "" then
  message = reason
else
  message = "The pool is not Ready"
end
hs.message = message
if condition.status == "True" then
  hs.status = "Healthy"
elseif reason == "InvalidSpec" or reason == "ChildFailed" or reason == "CreateFailed" or reason == "DeleteFailed" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
return hs
