"""p2p_ref: the reference Pix2Pix of the course (Isola et al., CVPR 2017).

One module per concept: models, losses, receptive_field, data, train. The graded notebooks ask
students to write the same functions and classes, with the same names and signatures.
"""

__version__ = "0.1.0"
