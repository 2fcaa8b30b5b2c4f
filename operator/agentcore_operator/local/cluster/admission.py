"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1),
run as kube-apiserver's `ValidatingAdmissionPolicy` admission plugin runs them.

After a write has been defaulted and has passed the schema (and before it is stored, dry
runs included), every policy that has at least one binding is considered, policies and
bindings in name order:

- the policy's `matchConstraints` (resourceRules/excludeResourceRules with apiGroups,
  apiVersions, operations, resources incl. `x/status`, `*/*`, resourceNames and scope;
  namespaceSelector; objectSelector), then the binding's `matchResources` (absent: all the
  policy matches; no resourceRules: every resource);
- the params: none without `paramKind`; with it, the binding's `paramRef` by `name` or by
  `selector` (every match, each evaluated; a namespaced paramKind looks in
  `paramRef.namespace` or the request's namespace); none found is allowed, or with
  `parameterNotFoundAction: Deny` a configuration error;
- per param, `matchConditions` (all must be true; an error falls to `failurePolicy`), then
  `variables` (each evaluated when first read, once per param; an error fails only what reads it),
  then each validation: an error falls to `failurePolicy` (Fail: denied, Ignore: admitted),
  a false result is denied with `messageExpression`, else `message`, else
  `failed expression: <expression>`, and `reason` (default Invalid);
- a denial goes by the binding's `validationActions`: Deny refuses the request, Warn adds a
  `Warning` header (`Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': msg`),
  Audit does nothing here (there is no audit log); configuration errors (an unknown
  paramKind, params not found with Deny) follow `failurePolicy` whatever the actions.

The refusal is the first denial, as the API server words it:
`<resource>.<group> "<name>" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b'
denied request: <message>`, reason and code from the validation's `reason` (Invalid 422 by
default, Forbidden 403, Unauthorized 401, RequestEntityTooLarge 413), the text again as the
one cause.

CEL sees `object`, `oldObject` (null on create / delete), `request` (an AdmissionRequest:
kind, resource, subResource, name, namespace, operation, userInfo, dryRun, options),
`params`, `namespaceObject` (the namespace's metadata, spec and status, as the API server
strips it; null for cluster-scoped requests) and `variables`, through the cluster's one CEL
environment (cel.py). `authorizer` is not offered: an expression that reads it errors
(and so follows `failurePolicy`). Not done: type checking (`status.typeChecking`),
`auditAnnotations` (accepted, not evaluated), matchPolicy Equivalent across versions.

This module also holds the API validation and defaulting of the two kinds, with the API
server's messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_operator.local.cluster import cel, fieldvalidation, labelselector, scale
from agentcore_operator.local.cluster.errors import ApiError
from agentcore_operator.local.cluster.resources import (
    BINDING_TYPE,
    NAMESPACE_TYPE,
    POLICY_TYPE,
    Registry,
    ResourceType,
)
from agentcore_operator.local.cluster.schema import FieldError, go_value
from agentcore_operator.local.cluster.store import Store

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT", "*")
FAILURE_POLICIES = ("Fail", "Ignore")
VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
NOT_FOUND_ACTIONS = ("Allow", "Deny")
REASON_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}
MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes
# Who every request comes from: the emulated cluster authenticates nobody.
USER_INFO = {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}


@dataclass(frozen=True)
class Attributes:
    """What admission knows of one request (admission.Attributes)."""

    resource_type: ResourceType
    operation: str  # CREATE, UPDATE, DELETE
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    subresource: str = ""
    dry_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    kind: dict[str, str] | None = None  # the object's group/version/kind when not the resource's (Scale)

    def request(self) -> dict[str, Any]:
        """The AdmissionRequest CEL reads as `request` (omitempty fields left out, as Go does)."""
        kind = self.kind or {
            "group": self.resource_type.group,
            "version": self.resource_type.version,
            "kind": self.resource_type.kind,
        }
        resource = {
            "group": self.resource_type.group,
            "version": self.resource_type.version,
            "resource": self.resource_type.plural,
        }
        request: dict[str, Any] = {
            "uid": str(uuid.uuid4()),
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "operation": self.operation,
            "userInfo": USER_INFO,
            "dryRun": self.dry_run,
            "options": self.options,
        }
        if self.subresource:
            request["subResource"] = request["requestSubResource"] = self.subresource
        if self.name:
            request["name"] = self.name
        if self.namespace:
            request["namespace"] = self.namespace
        return request


def update(
    resource_type: ResourceType,
    subresource: str | None,
    new: dict[str, Any],
    old: dict[str, Any],
    dry_run: bool,
) -> Attributes:
    """An update's attributes; through `/scale` the objects are the autoscaling/v1 Scales, as a
    real server admits them."""
    meta = old.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    if subresource == "scale" and resource_type.scale is not None:
        return Attributes(
            resource_type,
            "UPDATE",
            namespace,
            name,
            scale.of(resource_type, new),
            scale.of(resource_type, old),
            "scale",
            dry_run,
            kind={"group": "autoscaling", "version": "v1", "kind": "Scale"},
        )
    return Attributes(resource_type, "UPDATE", namespace, name, new, old, subresource or "", dry_run)


class ConfigurationError(Exception):
    """A policy or binding that cannot be applied to this request (it follows failurePolicy)."""


@dataclass(frozen=True)
class Decision:
    deny: bool
    message: str = ""
    reason: str = ""


@dataclass
class Denial:
    policy: str
    binding: str | None
    message: str
    reason: str = ""


class Admission:
    """The ValidatingAdmissionPolicy plugin of one emulated cluster."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    def admit(self, attributes: Attributes) -> None:
        """Raise the API server's refusal if a bound policy denies the request; add warnings."""
        policies = list(self.store.items(POLICY_TYPE, None))
        if not policies:
            return
        bindings: dict[str, list[dict[str, Any]]] = {}
        for binding in sorted(self.store.items(BINDING_TYPE, None), key=_name):
            bindings.setdefault((binding.get("spec") or {}).get("policyName", ""), []).append(binding)
        denials: list[Denial] = []
        for policy in sorted(policies, key=_name):
            bound = bindings.get(_name(policy))
            if bound:
                denials += self._policy(policy, bound, attributes)
        if denials:
            raise _refusal(attributes, denials[0])

    # -- one policy ------------------------------------------------------------------------

    def _policy(
        self, policy: dict[str, Any], bindings: list[dict[str, Any]], attributes: Attributes
    ) -> list[Denial]:
        spec = policy.get("spec") or {}
        name = _name(policy)
        fail = spec.get("failurePolicy", "Fail") != "Ignore"
        try:
            if not self._matches(spec.get("matchConstraints") or {}, attributes, policy_constraints=True):
                return []
            param_type = self._param_type(spec.get("paramKind"))
        except ConfigurationError as exc:
            return [Denial(name, None, f"failed to configure policy: {exc}")] if fail else []
        denials: list[Denial] = []
        for binding in bindings:
            binding_spec = binding.get("spec") or {}
            binding_name = _name(binding)
            try:
                match_resources = binding_spec.get("matchResources")
                if match_resources is not None and not self._matches(match_resources, attributes):
                    continue
                params = self._params(
                    spec.get("paramKind"), param_type, binding_spec.get("paramRef"), attributes
                )
            except ConfigurationError as exc:
                if fail:
                    denials.append(Denial(name, binding_name, f"failed to configure binding: {exc}"))
                continue
            namespace = self._namespace_object(attributes)
            actions = binding_spec.get("validationActions") or []
            for param in params:
                for decision in _validate(spec, attributes, param, namespace, fail):
                    if not decision.deny:
                        continue
                    if "Deny" in actions:
                        denials.append(Denial(name, binding_name, decision.message, decision.reason))
                    if "Warn" in actions:
                        fieldvalidation.warn(
                            f"Validation failed for ValidatingAdmissionPolicy '{name}' with binding "
                            f"'{binding_name}': {decision.message}"
                        )
                    # Audit: an audit annotation on a real server; there is no audit log here.
        return denials

    # -- matching --------------------------------------------------------------------------

    def _matches(
        self, constraints: Mapping[str, Any], attributes: Attributes, *, policy_constraints: bool = False
    ) -> bool:
        try:
            if not self._namespace_matches(constraints.get("namespaceSelector"), attributes):
                return False
            object_selector = constraints.get("objectSelector")
            if not labelselector.is_empty(object_selector) and not any(
                labelselector.matches(object_selector, _labels(body))
                for body in (attributes.obj, attributes.old)
                if body is not None
            ):
                return False
        except labelselector.LabelSelectorError as exc:
            raise ConfigurationError(str(exc)) from exc
        if any(_rule_matches(rule, attributes) for rule in constraints.get("excludeResourceRules") or ()):
            return False
        rules = constraints.get("resourceRules") or []
        if not rules and not policy_constraints:
            return True  # a binding's matchResources without rules narrows by its selectors only
        return any(_rule_matches(rule, attributes) for rule in rules)

    def _namespace_matches(self, selector: Mapping[str, Any] | None, attributes: Attributes) -> bool:
        if labelselector.is_empty(selector):
            return True
        if attributes.resource_type is NAMESPACE_TYPE:
            body = attributes.obj if attributes.obj is not None else attributes.old
            return labelselector.matches(selector, _labels(body))
        if not attributes.namespace:
            return True  # cluster-scoped requests are never exempted by a namespaceSelector
        namespace = self.store.get(NAMESPACE_TYPE, "", attributes.namespace)
        return labelselector.matches(selector, _labels(namespace))

    def _namespace_object(self, attributes: Attributes) -> dict[str, Any] | None:
        if not attributes.namespace or attributes.resource_type is NAMESPACE_TYPE:
            return None
        namespace = self.store.get(NAMESPACE_TYPE, "", attributes.namespace)
        if namespace is None:
            return None
        meta = namespace.get("metadata") or {}
        kept = (
            "name",
            "generateName",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "labels",
            "annotations",
        )
        return {
            "metadata": {key: meta[key] for key in kept if key in meta},
            "spec": namespace.get("spec") or {},
            "status": namespace.get("status") or {},
        }

    # -- params ----------------------------------------------------------------------------

    def _param_type(self, param_kind: Mapping[str, Any] | None) -> ResourceType | None:
        if not param_kind:
            return None
        api_version, kind = param_kind.get("apiVersion", ""), param_kind.get("kind", "")
        for resource_type in self.registry.types.values():
            if resource_type.group_version == api_version and resource_type.kind == kind:
                return resource_type
        group, _, version = api_version.rpartition("/")
        raise ConfigurationError(
            f"failed to find resource referenced by paramKind: '{group}/{version}, Kind={kind}'"
        )

    def _params(
        self,
        param_kind: Mapping[str, Any] | None,
        param_type: ResourceType | None,
        ref: Mapping[str, Any] | None,
        attributes: Attributes,
    ) -> list[dict[str, Any] | None]:
        if param_kind is None or param_type is None or ref is None:
            return [None]
        namespace: str | None = None
        if param_type.namespaced:
            namespace = ref.get("namespace") or attributes.namespace
            if not namespace:
                raise ConfigurationError(
                    "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources"
                )
        elif ref.get("namespace"):
            raise ConfigurationError(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`"
            )
        params: list[dict[str, Any] | None]
        if ref.get("name"):
            found = self.store.get(param_type, namespace or "", ref["name"])
            params = [found] if found is not None else []
        elif ref.get("selector") is not None:
            try:
                params = [
                    body
                    for body in sorted(self.store.items(param_type, namespace), key=_name)
                    if labelselector.matches(ref["selector"], _labels(body))
                ]
            except labelselector.LabelSelectorError as exc:
                raise ConfigurationError(str(exc)) from exc
        else:
            raise ConfigurationError("one of name or selector must be provided")
        if not params and ref.get("parameterNotFoundAction") == "Deny":
            raise ConfigurationError("no params found for policy binding with `Deny` parameterNotFoundAction")
        return params


# -- evaluation --------------------------------------------------------------------------------


def _validate(
    spec: Mapping[str, Any],
    attributes: Attributes,
    param: dict[str, Any] | None,
    namespace: dict[str, Any] | None,
    fail: bool,
) -> list[Decision]:
    """The policy's decisions for one param (validator.go)."""
    activation: dict[str, Any] = {
        "object": cel.value(attributes.obj),
        "oldObject": cel.value(attributes.old),
        "request": cel.value(attributes.request()),
        "params": cel.value(param),
        "namespaceObject": cel.value(namespace),
    }
    activation["variables"] = cel.lazy_map(
        {variable["name"]: variable["expression"] for variable in spec.get("variables") or ()}, activation
    )
    errors: list[str] = []
    for condition in spec.get("matchConditions") or ():
        try:
            result = cel.evaluate(condition["expression"], activation)
        except Exception as exc:
            errors.append(f"expression '{condition['expression']}' resulted in error: {cel.error_text(exc)}")
            continue
        verdict = cel.boolean(result)
        if verdict is None:
            errors.append(f"expression '{condition['expression']}' resulted in a non-boolean value")
        elif not verdict:
            return []
    if errors:
        message = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        return [Decision(deny=fail, message=message)]
    decisions = []
    for validation in spec.get("validations") or ():
        expression = validation.get("expression", "")
        try:
            result = cel.evaluate(expression, activation)
        except Exception as exc:
            message = f"expression '{expression}' resulted in error: {cel.error_text(exc)}"
            decisions.append(Decision(deny=fail, message=message))
            continue
        if cel.boolean(result):
            decisions.append(Decision(deny=False))
            continue
        decisions.append(
            Decision(
                deny=True,
                message=_failure_message(validation, activation),
                reason=validation.get("reason") or "Invalid",
            )
        )
    return decisions


def _failure_message(validation: Mapping[str, Any], activation: Mapping[str, Any]) -> str:
    message = ""
    if validation.get("messageExpression"):
        try:
            evaluated = cel.evaluate(validation["messageExpression"], activation)
        except Exception:  # the API server logs it and falls back
            evaluated = None
        if isinstance(evaluated, str):
            text = str(evaluated).strip()
            if len(text.encode()) <= MAX_MESSAGE_BYTES and "\n" not in text:
                message = text
    if not message:
        message = str(validation.get("message") or "").strip()
    if not message:
        message = f"failed expression: {str(validation.get('expression', '')).strip()}"
    return message


def _refusal(attributes: Attributes, denial: Denial) -> ApiError:
    if denial.binding is not None:
        text = (
            f"ValidatingAdmissionPolicy '{denial.policy}' with binding '{denial.binding}' "
            f"denied request: {denial.message}"
        )
    else:
        text = f"ValidatingAdmissionPolicy '{denial.policy}' denied request: {denial.message}"
    resource_type = attributes.resource_type
    subject = f'{resource_type.qualified} "{attributes.name}"' if attributes.name else resource_type.qualified
    reason = denial.reason or "Invalid"
    return ApiError(
        REASON_CODES.get(reason, 422),
        reason,
        f"{subject} is forbidden: {text}",
        {
            "name": attributes.name,
            **({"group": resource_type.group} if resource_type.group else {}),  # omitempty, as Go writes it
            "kind": resource_type.plural,
            "causes": [{"message": text}],
        },
    )


def _rule_matches(rule: Mapping[str, Any], attributes: Attributes) -> bool:
    resource_type = attributes.resource_type
    operations = rule.get("operations") or []
    if "*" not in operations and attributes.operation not in operations:
        return False
    if not _listed(rule.get("apiGroups"), resource_type.group):
        return False
    if not _listed(rule.get("apiVersions"), resource_type.version):
        return False
    scope = rule.get("scope") or "*"
    if (scope == "Cluster" and resource_type.namespaced) or (
        scope == "Namespaced" and not resource_type.namespaced
    ):
        return False
    names = rule.get("resourceNames") or []
    if names and attributes.name not in names:
        return False
    return any(
        _resource_matches(pattern, resource_type.plural, attributes.subresource)
        for pattern in rule.get("resources") or ()
    )


def _listed(allowed: Iterable[str] | None, value: str) -> bool:
    allowed = list(allowed or ())
    return "*" in allowed or value in allowed


def _resource_matches(pattern: str, plural: str, subresource: str) -> bool:
    resource, _, sub = pattern.partition("/")
    if not sub:
        return not subresource and resource in ("*", plural)
    if resource == "*" and sub == "*":
        return True
    if resource == "*":
        return sub == subresource
    if sub == "*":
        return resource == plural
    return resource == plural and sub == subresource


def _name(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("name", ""))


def _labels(body: Mapping[str, Any] | None) -> dict[str, str]:
    if not body:
        return {}
    return dict((body.get("metadata") or {}).get("labels") or {})


# -- API validation and defaulting of the two kinds --------------------------------------------


def prepare(resource_type: ResourceType, body: dict[str, Any]) -> list[FieldError]:
    """Default a policy or binding in place, as the API server does, and return its field errors."""
    spec = body.get("spec")
    if resource_type is POLICY_TYPE:
        if not isinstance(spec, dict):
            return [FieldError("spec", "FieldValueRequired", "Required value")]
        spec.setdefault("failurePolicy", "Fail")
        if isinstance(spec.get("matchConstraints"), dict):
            _default_match_resources(spec["matchConstraints"])
        return _policy_errors(spec)
    if resource_type is BINDING_TYPE:
        if not isinstance(spec, dict):
            return [FieldError("spec", "FieldValueRequired", "Required value")]
        if isinstance(spec.get("matchResources"), dict):
            _default_match_resources(spec["matchResources"])
        return _binding_errors(spec)
    return []


def _default_match_resources(match: dict[str, Any]) -> None:
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    match.setdefault("matchPolicy", "Equivalent")
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in match.get(key) or ():
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def _unsupported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    listed = ", ".join(go_value(v) for v in supported)
    return FieldError(
        path, "FieldValueNotSupported", f"Unsupported value: {go_value(value)}: supported values: {listed}"
    )


def _compiles(path: str, expression: Any) -> list[FieldError]:
    if not isinstance(expression, str) or not expression.strip():
        return [FieldError(path, "FieldValueRequired", "Required value: expression is not specified")]
    try:
        cel.program(expression)
    except cel.CompileError as exc:
        return [
            FieldError(
                path, "FieldValueInvalid", f"Invalid value: {go_value(expression)}: compilation failed: {exc}"
            )
        ]
    return []


def _policy_errors(spec: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    if spec.get("failurePolicy") not in FAILURE_POLICIES:
        errors.append(_unsupported("spec.failurePolicy", spec.get("failurePolicy"), FAILURE_POLICIES))
    param_kind = spec.get("paramKind")
    if param_kind is not None:
        for key in ("apiVersion", "kind"):
            if not (param_kind or {}).get(key):
                errors.append(FieldError(f"spec.paramKind.{key}", "FieldValueRequired", "Required value"))
    match = spec.get("matchConstraints")
    if not isinstance(match, dict):
        errors.append(FieldError("spec.matchConstraints", "FieldValueRequired", "Required value"))
    else:
        if not match.get("resourceRules"):
            errors.append(
                FieldError("spec.matchConstraints.resourceRules", "FieldValueRequired", "Required value")
            )
        errors += _match_errors("spec.matchConstraints", match)
    if not spec.get("validations") and not spec.get("auditAnnotations"):
        errors.append(
            FieldError(
                "spec.validations",
                "FieldValueRequired",
                "Required value: validations or auditAnnotations must contain at least one item",
            )
        )
    for index, validation in enumerate(spec.get("validations") or ()):
        path = f"spec.validations[{index}]"
        errors += _compiles(f"{path}.expression", (validation or {}).get("expression"))
        if (validation or {}).get("messageExpression"):
            errors += _compiles(f"{path}.messageExpression", validation["messageExpression"])
        reason = (validation or {}).get("reason")
        if reason is not None and reason not in REASON_CODES:
            errors.append(_unsupported(f"{path}.reason", reason, sorted(REASON_CODES)))
    for key in ("variables", "matchConditions"):
        seen: set[str] = set()
        for index, item in enumerate(spec.get(key) or ()):
            name = (item or {}).get("name")
            if not name:
                errors.append(FieldError(f"spec.{key}[{index}].name", "FieldValueRequired", "Required value"))
            elif name in seen:
                errors.append(
                    FieldError(
                        f"spec.{key}[{index}].name",
                        "FieldValueDuplicate",
                        f"Duplicate value: {go_value(name)}",
                    )
                )
            seen.add(name or "")
            errors += _compiles(f"spec.{key}[{index}].expression", (item or {}).get("expression"))
    return errors


def _match_errors(path: str, match: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in ("resourceRules", "excludeResourceRules"):
        for index, rule in enumerate(match.get(key) or ()):
            for operation in (rule or {}).get("operations") or ():
                if operation not in OPERATIONS:
                    errors.append(_unsupported(f"{path}.{key}[{index}].operations", operation, OPERATIONS))
    for key in ("namespaceSelector", "objectSelector"):
        try:
            labelselector.matches(match.get(key), {})
        except labelselector.LabelSelectorError as exc:
            errors.append(FieldError(f"{path}.{key}", "FieldValueInvalid", f"Invalid value: {exc}"))
    return errors


def _binding_errors(spec: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    if not spec.get("policyName"):
        errors.append(FieldError("spec.policyName", "FieldValueRequired", "Required value"))
    actions = spec.get("validationActions") or []
    if not actions:
        errors.append(
            FieldError(
                "spec.validationActions",
                "FieldValueRequired",
                "Required value: at least one validation action is required",
            )
        )
    for index, action in enumerate(actions):
        if action not in VALIDATION_ACTIONS:
            errors.append(_unsupported(f"spec.validationActions[{index}]", action, VALIDATION_ACTIONS))
    if "Deny" in actions and "Warn" in actions:
        errors.append(
            FieldError(
                "spec.validationActions",
                "FieldValueInvalid",
                f"Invalid value: {go_value('object')}: must not contain both Deny and Warn (repeating the same "
                "validation failure information in the API response and headers serves no purpose)",
            )
        )
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        if ref.get("name") and ref.get("selector") is not None:
            errors.append(
                FieldError(
                    "spec.paramRef.name",
                    "FieldValueForbidden",
                    "Forbidden: name and selector are mutually exclusive",
                )
            )
        elif not ref.get("name") and ref.get("selector") is None:
            errors.append(
                FieldError(
                    "spec.paramRef",
                    "FieldValueRequired",
                    "Required value: one of name or selector must be specified",
                )
            )
        action = ref.get("parameterNotFoundAction")
        if action is None:
            errors.append(
                FieldError("spec.paramRef.parameterNotFoundAction", "FieldValueRequired", "Required value")
            )
        elif action not in NOT_FOUND_ACTIONS:
            errors.append(_unsupported("spec.paramRef.parameterNotFoundAction", action, NOT_FOUND_ACTIONS))
    if isinstance(spec.get("matchResources"), dict):
        errors += _match_errors("spec.matchResources", spec["matchResources"])
    return errors
