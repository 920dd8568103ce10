"""FMCW TDM-MIMO scene simulator: raw ADC frames of moving road users with per-frame ground truth.

Physics and assumptions
-----------------------
* **Geometry.** The ego radar is *static* at the origin of a REP-103 ground frame (x forward along boresight,
  y left, z up), ``Scene.radar_height_m`` above a flat ground, as in the ROD2021 parking-lot / campus captures and
  CARRADA. Azimuth is measured from boresight, positive towards the sensor's right.
* **Signal.** Every return is a point scatterer; the beat signal of the de-chirped complex samples
  (:mod:`record.sim.signal`) keeps the sign conventions the signal chain inverts: positive beat tone, carrier phase
  ``+4 pi R / lambda``, element phase ``-pi d sin(theta)``, each Tx slot firing one chirp period after the previous
  one, and the range walk within the frame. The array is horizontal, so ``sin(theta)`` is the direction cosine along
  it; elevation only changes the slant range and the antenna gain. No multipath, ghosts, phase noise or
  interference.
* **Objects** (:mod:`record.sim.objects`) are sets of reflection centres: pedestrians (torso, head, swinging arms
  and legs with a gait cycle: micro-Doppler 0..2v at the feet), cyclists (rider, frame, rolling wheels with rim
  points 0..2v, pedalling legs) and cars (oriented box with corners, bumpers, licence plates, side panels, wheel
  houses, tyres and mirrors; 34 centres with aspect-dependent lobes and self-occlusion). Each object's RCS is drawn
  from its class prior (car 10-20 dBsm, pedestrian -10..0, cyclist 0-5) as the aspect average; each centre keeps a
  random scattering phase for the whole sequence and, for moving objects, fluctuates from frame to frame
  (Swerling I or III per centre, or none).
* **Whole-object fading** (:mod:`record.sim.fading`, optional): each road user's return fades as a whole with a
  correlation time of a few hundred milliseconds (a Rician / Rayleigh gain process: aspect, posture and ground
  bounce changes not resolved by the templates), so deep fades last several frames.
* **Motion** (:mod:`record.sim.kinematics`, :mod:`record.sim.scenario`): constant-speed segments, straight or turning
  at a constant yaw rate, pedestrians sometimes pausing; objects enter and leave the field of view and cross each
  other. Within a frame the scene is re-evaluated per block of loops, so limbs and wheels move while chirps fire.
* **Occlusion** (:mod:`record.sim.occlusion`): a centre behind another object's box (line of sight from the radar
  passes through the box below its roof) loses ``occlusion_loss_db``; static surroundings are shadowed too.
* **Amplitude** (:mod:`record.sim.receiver`): radar equation ``sqrt(RCS) / R^2``, a two-way ``cos`` azimuth pattern
  and a Gaussian elevation beam (the ground close to the radar is weak); the scale is set by the per-sample SNR of a
  1 m^2 target at 10 m. Receiver noise is complex white Gaussian per physical Rx and sampling instant; signal and
  noise pass an IF filter (high-pass corner and anti-alias low-pass) that shapes the noise floor along range.
  Optional Tx->Rx leakage and ADC DC offset.
* **Static clutter** (:mod:`record.sim.clutter`): ground returns, walls with specular lobes, poles and parked cars,
  all at zero Doppler and without fluctuation.
* **Calibration** (:mod:`record.sim.calibration`): front-end constants per capture chosen so that, through
  :mod:`record.dsp.chain`, CARRADA views and ROD2021 complex maps of default random scenes land in the published
  value ranges.

Typical use::

    rng = np.random.default_rng(0)
    scene = random_scene(scene_config_for(ROD2021), duration_s=20.0, rng=rng)
    simulator = Simulator(ROD2021, scene, rng=rng)
    for frame in simulator.frames(600):      # frame.adc: complex64 [4, 2, 4, 128], frame.truth: FrameTruth
        ...
"""

from record.sim.calibration import RADAR_MODELS, default_radar
from record.sim.clutter import ClutterConfig, random_static
from record.sim.fading import FadingProcess, ObjectFading
from record.sim.kinematics import MotionState, Segment, Trajectory
from record.sim.objects import CarModel, CyclistModel, ObjectModel, PedestrianModel, random_model
from record.sim.occlusion import Footprints, shadowed
from record.sim.receiver import RadarModel
from record.sim.scenario import DEFAULT_PRIORS, ClassPrior, SceneConfig, random_scene, scene_config_for
from record.sim.scene import Scene, SceneObject, StaticScatterers
from record.sim.signal import Scatterers, beat_signal
from record.sim.simulator import (
    FLUCTUATIONS,
    SimFrame,
    SimulatedSequence,
    SimulationConfig,
    Simulator,
    simulate_sequence,
)
from record.sim.truth import FrameTruth, ObjectTruth, ScattererPoints

__all__ = [
    "DEFAULT_PRIORS",
    "FLUCTUATIONS",
    "RADAR_MODELS",
    "CarModel",
    "ClassPrior",
    "ClutterConfig",
    "CyclistModel",
    "FadingProcess",
    "Footprints",
    "FrameTruth",
    "MotionState",
    "ObjectFading",
    "ObjectModel",
    "ObjectTruth",
    "PedestrianModel",
    "RadarModel",
    "ScattererPoints",
    "Scatterers",
    "Scene",
    "SceneConfig",
    "SceneObject",
    "Segment",
    "SimFrame",
    "SimulatedSequence",
    "SimulationConfig",
    "Simulator",
    "StaticScatterers",
    "Trajectory",
    "beat_signal",
    "default_radar",
    "random_model",
    "random_scene",
    "random_static",
    "scene_config_for",
    "shadowed",
    "simulate_sequence",
]
