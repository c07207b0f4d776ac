# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one runner of the collection's modules, and the interface of a concern (private).

A concern (the bridge, the VXLAN interface, the vnodes, link shaping, ...) is a :class:`Concern`:
its argument spec and five steps, each a plain function of plain data or of the kernel context:

* ``validate(params)`` -> the desired state (``ValueError`` naming the parameter and value);
* ``observe(ctx, desired)`` -> what the kernel and the files hold now;
* ``diff(ctx, desired, observed)`` -> a :class:`Change` (pure where it can be: what to do, the
  :class:`DifferenceTracker` of before/after, errors that forbid any change, warnings);
* ``apply(ctx, desired, observed, change)`` -> do it (never called in check mode, nor when the
  change is empty);
* ``result(ctx, desired, observed, change)`` -> the module's own return values.

:func:`execute` runs them and owns everything modules used to repeat: entering ``netns``, the
netlink socket and the namespace switcher a concern asks for (:attr:`Concern.NEEDS`), pyroute2's
presence, check and diff mode, the wording of errors (the first five, then how many more), and
the result dict (``changed`` from the tracker, ``diff`` in diff mode). A :class:`Failure` is the
one way a concern fails; :func:`run_module` turns it into ``fail_json``. The ``dataplane`` module
composes concerns through :func:`check_params` and :func:`execute`, exactly as their modules run.

Check mode never fails on drift a deploy repairs. Outside check mode, a concern that finds
missing an object another step makes (the bridge, a vnode's veth or namespace, the VXLAN device)
fails. In check mode the step that makes it changed nothing, so the concern warns "... does not
exist (yet)", observes the object as just made (no qdisc, no neighbour entry, no master) and
reports every change it would then make (``changed`` and the diff), never failing on it.

A concern whose difference is too large to hold (``arp_tables``: millions of entries per pnode)
may apply while it compares, one vnode at a time, in :meth:`Concern.diff` outside check mode; it
then returns ``Change(applied=True)`` and ``apply`` is not called.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib

from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker

#: how many errors a failure message lists before "(and N more)"
SHOWN_ERRORS = 5


class Failure(Exception):
    """A concern refuses or fails: ``msg`` is the module's message, ``extra`` more return values."""

    def __init__(self, msg, **extra):
        Exception.__init__(self, msg)
        self.msg = msg
        self.extra = extra


def join_errors(errors, prefix=""):
    """``"a; b; c; d; e (and 2 more)"``: the one wording of a list of errors."""
    errors = list(errors)
    text = "; ".join(errors[:SHOWN_ERRORS])
    if len(errors) > SHOWN_ERRORS:
        text += " (and %d more)" % (len(errors) - SHOWN_ERRORS)
    return prefix + text


def missing(check_mode, text, errors, warnings, why=""):
    """The check-mode rule above for one object another step makes, found missing: ``text``
    (``"bridge b does not exist"``) goes to ``errors`` (with ``why``), or in check mode to
    ``warnings`` as ``"... (yet)"``. Returns ``check_mode``: whether the caller goes on as if the
    object were just made."""
    if check_mode:
        warnings.append(text + " (yet)")
    else:
        errors.append(text + why)
    return check_mode


class Change:
    """What :meth:`Concern.diff` found: ``tracker`` (before/after, ``changed``), ``actions`` (what
    ``apply`` does, the concern's own data), ``errors`` (nothing may be changed), ``warnings``,
    ``failure`` (extra return values of the failure those errors make), ``applied``; ``changed``
    and ``diff`` replace the tracker's for a concern that reports its own."""

    def __init__(self, tracker=None, actions=None, errors=(), warnings=(), failure=None,
                 applied=False, changed=None, diff=None):
        self.tracker = tracker if tracker is not None else DifferenceTracker()
        self.actions = actions if actions is not None else []
        self.errors = list(errors)
        self.warnings = list(warnings)
        self.failure = failure or {}
        self.applied = applied
        self._changed = changed
        self._diff = diff

    def settle(self, changed):
        """``apply`` found that it changed (or not) something after all."""
        self._changed = bool(changed)

    @property
    def changed(self):
        return self.tracker.changed if self._changed is None else bool(self._changed)

    def diff(self):
        return self.tracker.diff() if self._diff is None else self._diff


class Context:
    """What a concern's steps get: the modes, the kernel handles it asked for, ``warn``."""

    def __init__(self, check_mode=False, diff_mode=False, sock=None, switcher=None, warn=None,
                 params=None):
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.sock = sock
        self.switcher = switcher
        self.params = params or {}
        self._warn = warn

    def warn(self, text):
        if self._warn is not None:
            self._warn(text)


class Concern:
    """The interface every concern implements (see the module documentation)."""

    #: how messages name the concern (``"bridge"``: ``bridge: ...``)
    NAME = ""
    ARGUMENT_SPEC = {}
    REQUIRED_IF = ()
    MUTUALLY_EXCLUSIVE = ()
    #: kernel handles :func:`execute` opens inside ``netns``: ``"netlink"`` (``ctx.sock``),
    #: ``"switcher"`` (``ctx.switcher``); ``"pyroute2"``: refuse early when it is missing
    NEEDS = ("pyroute2", "netlink")
    #: exceptions whose text becomes the failure message (see :meth:`describe`); pyroute2's
    #: NetlinkError is added for concerns that need pyroute2
    ERRORS = (OSError,)

    def validate(self, params):
        raise NotImplementedError

    def observe(self, ctx, desired):
        return None

    def diff(self, ctx, desired, observed):
        raise NotImplementedError

    def apply(self, ctx, desired, observed, change):
        raise NotImplementedError

    def result(self, ctx, desired, observed, change):
        return {}

    def prefix(self, desired):
        """The start of the failure message of an exception of :attr:`ERRORS`."""
        return "%s: " % self.NAME if self.NAME else ""

    def errors_prefix(self, desired):
        """The start of the failure message made of :attr:`Change.errors`."""
        return ""

    def invocation(self, params):
        """The ``module_args`` a result shows (None: all the parameters, as Ansible does); a
        concern whose parameters are large (a plan's part) shows a summary instead: results
        travel back over SSH and into every callback and event of the controller."""
        return None

    def describe(self, exc, desired):
        """The failure message of an exception of :attr:`ERRORS`."""
        from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import error_text
        return self.prefix(desired) + (error_text(exc) if getattr(exc, "code", None) or
                                       isinstance(exc, OSError) and exc.errno else str(exc))


def check_params(concern, params):
    """The parameters completed and checked by the concern's argument spec (what AnsibleModule
    does for a module): for a concern composed by another module. Raises :class:`Failure`."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    validator = ArgumentSpecValidator(concern.ARGUMENT_SPEC,
                                      mutually_exclusive=list(concern.MUTUALLY_EXCLUSIVE) or None,
                                      required_if=list(concern.REQUIRED_IF) or None)
    res = validator.validate(dict(params))
    if res.error_messages:
        raise Failure("; ".join(res.error_messages))
    return res.validated_parameters


def execute(concern, params, check_mode=False, diff_mode=False, warn=None, links=None):
    """Run ``concern`` with validated ``params``; the module's result dict. Raises
    :class:`Failure` (nothing was changed when it comes from validate or diff).

    ``links``: a :class:`_kernel.iproute.LinkCache` several concerns run in turn share (else one
    of this run's own). ``ctx.sock.links()`` reads through it while the concern observes, and
    for its result when nothing was written; it is emptied when the concern changed anything
    (its ``changed``), so a link dump is shared only while nothing changes in between."""
    try:
        desired = concern.validate(params)
        if "pyroute2" in concern.NEEDS:
            from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import require_pyroute2
            require_pyroute2()
    except (ValueError, ImportError) as exc:
        raise Failure(str(exc))
    errors = tuple(concern.ERRORS)
    if "pyroute2" in concern.NEEDS:
        from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import NetlinkError
        errors += (NetlinkError,)
    try:
        with _kernel(concern, params, check_mode, diff_mode, warn) as ctx:
            cache = None
            if ctx.sock is not None:
                from ansible_collections.vxlab.emulation.plugins.module_utils._kernel.iproute import LinkCache
                cache = links if links is not None else LinkCache()
            _read_through(ctx, cache)
            observed = concern.observe(ctx, desired)
            _read_through(ctx, None)
            change = concern.diff(ctx, desired, observed)
            if change.errors:
                raise Failure(join_errors(change.errors, concern.errors_prefix(desired)), **change.failure)
            if not (check_mode or change.applied) and (change.changed or change.actions):
                concern.apply(ctx, desired, observed, change)
            if change.changed and not check_mode:
                # something was written (by diff or apply: a concern's changed says so)
                _clear(links)
                _clear(cache)
            _read_through(ctx, cache)
            result = concern.result(ctx, desired, observed, change)
            _read_through(ctx, None)
    except errors as exc:  # pylint: disable=catching-non-exception
        raise Failure(concern.describe(exc, desired))
    for text in change.warnings:
        if warn is not None:
            warn(text)
    out = {"changed": change.changed}
    out.update(result)
    if diff_mode:
        out["diff"] = change.diff()
    return out


def _read_through(ctx, cache):
    if ctx.sock is not None:
        ctx.sock.cache = cache


def _clear(cache):
    if cache is not None:
        cache.clear()


@contextlib.contextmanager
def _kernel(concern, params, check_mode, diff_mode, warn):
    needs = concern.NEEDS
    if not ("netlink" in needs or "switcher" in needs or params.get("netns")):
        yield Context(check_mode, diff_mode, warn=warn, params=params)
        return
    from ansible_collections.vxlab.emulation.plugins.module_utils._kernel import iproute, netns

    with netns.in_netns(params.get("netns")):
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(iproute.Netlink()) if "netlink" in needs else None
            switcher = stack.enter_context(iproute.NetnsSwitcher()) if "switcher" in needs else None
            yield Context(check_mode, diff_mode, sock, switcher, warn, params)


def run_module(concern):
    """A module's whole ``main()``: its concern run by the runner."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=concern.ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=list(concern.REQUIRED_IF) or None,
                           mutually_exclusive=list(concern.MUTUALLY_EXCLUSIVE) or None)
    shown = concern.invocation(module.params)
    extra = {} if shown is None else {"invocation": {"module_args": shown}}
    try:
        result = execute(concern, module.params, module.check_mode, module._diff, module.warn)
    except Failure as failure:
        module.fail_json(msg=failure.msg, **dict(failure.extra, **extra))
    module.exit_json(**dict(result, **extra))
