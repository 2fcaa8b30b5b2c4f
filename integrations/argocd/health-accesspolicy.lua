-- Argo CD health check for agentcore.dev/AgentCoreAccessPolicy (agentcore-operator).
--
-- Progressing  the operator has not yet written status for metadata.generation.
-- Healthy      Ready True (Valid): every namespace it selects is bound to it.
-- Degraded     Ready False: Overlap (a namespace it selects is bound by a policy whose name
--              sorts first; the message names it) or InvalidSpec (the message names the field).
--
-- Uses only the base library (no string.*), as Argo CD runs health scripts. Lua 5.1.
local hs = {}
local metadata = obj.metadata or {}
local status = obj.status
local generation = metadata.generation

if status == nil or status.observedGeneration == nil
    or (generation ~= nil and status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation or "?")
  return hs
end

local ready = nil
if type(status.conditions) == "table" then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the policy"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Valid"
else
  hs.status = "Degraded"
  hs.message = tostring(ready.reason) .. ": " .. tostring(ready.message)
end
return hs
