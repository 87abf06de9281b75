import sys

from p2p_ref.gpu_check.check import main

sys.exit(main())
