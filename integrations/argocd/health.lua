-- Argo CD health check for agentcore.dev/CodeInterpreterSession.
--
-- Healthy      Ready: the session is usable until status.expiresAt.
-- Progressing  not yet observed (no status, or status for an older generation), Pending
--              (interpreter not ready, quota reached, throttled: all retried), Starting,
--              Stopping, or a phase this script does not know.
-- Degraded     Failed (cannot start; the message says why), and Terminated: the session
--              expired or was stopped elsewhere. That is a normal end of life, but the
--              declared intent (a live session) is no longer met and never will be again
--              without re-creating the resource, which is what Degraded tells a GitOps user.
hs = {}
local function ready_condition(status)
  if status.conditions ~= nil then
    for _, condition in ipairs(status.conditions) do
      if condition.type == "Ready" then
        return condition
      end
    end
  end
  return nil
end

local function describe(status, fallback)
  local condition = ready_condition(status)
  if condition ~= nil and condition.reason ~= nil then
    return condition.reason .. ": " .. (condition.message or status.message or "")
  end
  return status.message or fallback
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the session"
  return hs
end

local status = obj.status
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local phase = status.phase
if phase == "Ready" then
  hs.status = "Healthy"
  hs.message = "Session " .. (status.sessionId or "?") .. " is ready until " .. (status.expiresAt or "?")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = describe(status, "The session cannot start")
elseif phase == "Terminated" then
  hs.status = "Degraded"
  hs.message = describe(status, "The session ended") .. " (re-create the resource for a new session)"
elseif phase == "Pending" or phase == "Starting" or phase == "Stopping" then
  hs.status = "Progressing"
  hs.message = describe(status, phase)
else
  hs.status = "Progressing"
  hs.message = "Unknown phase " .. tostring(phase)
end
return hs
