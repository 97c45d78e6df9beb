"""Customer-side usage path: the solution records usage on an SQS queue in the customer's account
(`recorder`), and an hourly Lambda reports it, pre-aggregated and signed, to the vendor (`reporter`).

Both modules are self-contained on purpose (no imports from this package or the project), because
each is shipped on its own: `recorder.py` next to a solution function's handler, the `reporter`
package with `vendor_client.py` and `signing.py` (copies of customer_stack/vendor_client.py and
runtime/shared/signing.py) as the reporter artifact. This file
imports nothing, so it may be left out of, or included in, either zip.
"""
