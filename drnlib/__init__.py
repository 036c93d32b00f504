"""drnlib: Dilated Residual Networks (Yu et al. 2017) and Wider-or-Deeper ResNets (Wu et al. 2016).

Layers, each importing only those below it:
    models, data, eval  ->  train, analysis, results  ->  cli, book
"""

__version__ = "0.1.0"
