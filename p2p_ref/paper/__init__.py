"""The answer key: what the paper specifies and the course's students write.

Isola et al., *Image-to-Image Translation with Conditional Adversarial Networks* (CVPR 2017,
arXiv 1611.07004 v3). Each module is one concept of the paper, with the names and signatures the
lessons ask for:

    data             A|B halves, [-1, 1] scaling, the random jitter (appendix 6.2)   lesson 1
    models           the U-Net generator and the PatchGAN discriminator (sec. 3.2)    lessons 2, 3
    receptive_field  the field and output size of a stack of convolutions (sec. 3.2.2) lesson 3
    losses           the cGAN and L1 objectives (sec. 3.1, eq. 1-4)                   lesson 4
    sharpness        L1 and sharpness of generated images (sec. 4.2)                  lesson 4
    train_step       one D step then one G step, Adam, the schedule (sec. 3.3)        lesson 5

Nothing here imports anything else from p2p_ref (tests/project/test_layout.py holds the rule).
"""
