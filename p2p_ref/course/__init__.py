"""The course machinery: the checks that grade the notebooks (`checks/`), the tamper-proof
re-grade (`grading/`), carrying a student's code between lessons (`coursework`) and the widgets
(`widgets/`). May import anything in p2p_ref except `gpu_check`; nothing imports it."""
