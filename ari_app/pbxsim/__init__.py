"""The simulated PBX: ARI as Asterisk 22 speaks it, derived from a model of the world."""

from ari_app.pbxsim.server import PbxSim

__all__ = ["PbxSim"]
