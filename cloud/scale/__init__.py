"""Scale-out on Ray Serve: the heavy, stateless work as Serve deployments, session state in a Ray actor.

``eyeline cloud --ray auto|ADDRESS`` (``CloudConfig.ray``) turns it on; without it nothing here is imported and
Ray is never needed. ``config.py`` and ``failover.py`` are plain Python; every other module imports Ray:

- ``deployments.py``: the Serve deployments (perception: OCR and segmentation; speech; Contemplating's
  sub-agents) and the applications ``serve deploy`` and ``serve.run`` start.
- ``backend.py``: joining (or starting) Ray, deploying what is missing, the deployment handles.
- ``remote.py``: the handles behind the interfaces the cloud already calls (``OcrPool``, ``ProductSegmenter``,
  ``SpeechRecognizer``, ``AgentPool``), each with an in-process fallback.
- ``session_store.py``: one detached actor holding what a session needs to be resumed by any ingress.
- ``mirror.py``: what an ingress writes there as a session goes, and how another ingress picks it up.
- ``assembly.py``: what ``Cloud`` builds from all of these.
"""
