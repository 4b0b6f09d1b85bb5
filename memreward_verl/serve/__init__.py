"""The online reward path's building blocks, free of verl and Ray (integration/ wraps them).

``typed`` checks option values where they enter; ``options`` is the one options tree a job's
``reward.reward_kwargs`` becomes; ``load`` reads the files a worker starts from.
"""
