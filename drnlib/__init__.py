"""drnlib: Dilated Residual Networks (Yu et al. 2017) and Wider-or-Deeper ResNets (Wu et al. 2016).

Layers, each importing only those below it (tests/test_layers.py checks the import graph):
    errors, files, provenance                          where the book lives, atomic files, provenance
    models, data, eval                                 networks, data sets, metrics
    train, analysis                                    the one engine (RunConfig, fit, evaluate_run); measurements
    recipes, runs, results, paper, params, display     named recipes, runs as data, stored results, the papers'
                                                       numbers and claims (one rule), page parameters, showing them
    pages                                              what each part of the book measures
    toc, book, cli, campaign                           the notebook runner, the command lines, GPU work units
"""

__version__ = "0.1.0"
