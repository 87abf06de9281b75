"""The course's interactive widgets: the facade playground, the lambda explorer (and the sweep
that makes its data), the receptive-field explorer and the PatchGAN-depth sweep of lesson 3."""
