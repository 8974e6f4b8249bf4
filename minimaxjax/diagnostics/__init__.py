"""Diagnostics for game dynamics: local stability, limit cycles, weak-Minty constants.

Three questions a user asks when a minimax run misbehaves, each answered here:

* **Is the critical point stable for this rule and step size?** Linearise one
  iteration of the rule at ``z*`` (:func:`update_map`, generically, from the rule's
  own code; :func:`linear_update_map`, from the closed forms) and read the spectral
  radius (:func:`stability`).
* **What did the run end on?** :func:`detect_cycle` tells a converged run from a
  diverged one (growing exponentially), from one still growing ever more slowly
  towards a bounded orbit (saturating) and from a limit cycle, with its period and
  amplitude, and says whether the attractor holds a critical point at all (the
  spurious attractors of Hsieh, Mertikopoulos & Cevher, ICML 2021).
* **What problem class is this?** :func:`lipschitz_estimate` and
  :func:`weak_minty_rho` sample ``L`` and the weak-MVI constant ``ρ`` on a box.

Everything here is eager analysis of small games (dense Jacobians, NumPy
eigenvalues); only :func:`jacobian` and :func:`trajectory` are traceable.
"""

from minimaxjax.diagnostics._cycles import CycleReport as CycleReport
from minimaxjax.diagnostics._cycles import Outcome as Outcome
from minimaxjax.diagnostics._cycles import Trajectory as Trajectory
from minimaxjax.diagnostics._cycles import detect_cycle as detect_cycle
from minimaxjax.diagnostics._cycles import trajectory as trajectory
from minimaxjax.diagnostics._gap import duality_gap as duality_gap
from minimaxjax.diagnostics._sampled import SampleEstimate as SampleEstimate
from minimaxjax.diagnostics._sampled import lipschitz_estimate as lipschitz_estimate
from minimaxjax.diagnostics._sampled import weak_minty_rho as weak_minty_rho
from minimaxjax.diagnostics._stability import Stability as Stability
from minimaxjax.diagnostics._stability import Verdict as Verdict
from minimaxjax.diagnostics._stability import jacobian as jacobian
from minimaxjax.diagnostics._stability import linear_update_map as linear_update_map
from minimaxjax.diagnostics._stability import spectral_radius as spectral_radius
from minimaxjax.diagnostics._stability import stability as stability
from minimaxjax.diagnostics._stability import update_map as update_map

__all__ = [
    "CycleReport",
    "Outcome",
    "SampleEstimate",
    "Stability",
    "Trajectory",
    "Verdict",
    "detect_cycle",
    "duality_gap",
    "jacobian",
    "linear_update_map",
    "lipschitz_estimate",
    "spectral_radius",
    "stability",
    "trajectory",
    "update_map",
    "weak_minty_rho",
]
