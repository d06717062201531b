//! SNS e-mail subscriptions, as the Subscribe API reference documents them.

use std::time::Instant;

use super::{Call, Reply, Rule, Service};

/// An e-mail subscription stays unconfirmed until its address follows the link SNS mails: its
/// `SubscriptionArn` reads `PendingConfirmation` in ListSubscriptionsByTopic and Subscribe.
///
/// Subscribe, API reference: "if the service requires confirmation, the subscription ARN is
/// returned as 'pending confirmation'" (e-mail always does: "the endpoint owner must call the
/// ConfirmSubscription action ... by following the link in the confirmation message");
/// ListSubscriptionsByTopic lists it with `SubscriptionArn` `PendingConfirmation`. moto
/// confirms every subscription at once; nothing here ever confirms one.
pub struct EmailPendingConfirmation;

/// `xml` with the `SubscriptionArn` of every `<member>` whose protocol is `email` replaced.
fn pending(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<member>") {
        let Some(len) = rest[start..].find("</member>") else {
            break;
        };
        let end = start + len;
        out.push_str(&rest[..start]);
        let member = &rest[start..end];
        if member.contains("<Protocol>email</Protocol>")
            && let (Some(a), Some(b)) = (
                member.find("<SubscriptionArn>"),
                member.find("</SubscriptionArn>"),
            )
        {
            out.push_str(&member[..a]);
            out.push_str("<SubscriptionArn>PendingConfirmation");
            out.push_str(&member[b..]);
        } else {
            out.push_str(member);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

impl Rule for EmailPendingConfirmation {
    fn name(&self) -> &'static str {
        "EmailPendingConfirmation"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if !reply.ok() || call.service != Service::Sns {
            return;
        }
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        let edited = match call.operation.as_str() {
            "ListSubscriptionsByTopic" | "ListSubscriptions" => pending(&body),
            "Subscribe" if call.param("Protocol") == Some("email") => {
                match (
                    body.find("<SubscriptionArn>"),
                    body.find("</SubscriptionArn>"),
                ) {
                    (Some(a), Some(b)) => format!(
                        "{}<SubscriptionArn>pending confirmation{}",
                        &body[..a],
                        &body[b..]
                    ),
                    _ => return,
                }
            }
            _ => return,
        };
        reply.body = edited.into_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_email_subscriptions_read_as_pending() {
        let xml = "<Subscriptions><member><Protocol>email</Protocol><SubscriptionArn>arn:aws:sns:x:1:t:abc</SubscriptionArn><Endpoint>a@b.c</Endpoint></member><member><Protocol>sqs</Protocol><SubscriptionArn>arn:aws:sns:x:1:t:def</SubscriptionArn></member></Subscriptions>";
        let out = pending(xml);
        assert!(out.contains("<Protocol>email</Protocol><SubscriptionArn>PendingConfirmation</SubscriptionArn><Endpoint>a@b.c</Endpoint>"), "{out}");
        assert!(
            out.contains("<SubscriptionArn>arn:aws:sns:x:1:t:def</SubscriptionArn>"),
            "{out}"
        );
    }
}
