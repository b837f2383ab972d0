# bench/deliver.sieve - the 20-rule script bench/deliver gives every user:
# to dirmail as the directory's dirmailSieve, to Dovecot's Pigeonhole as the
# user's script file. Every fileinto is followed by stop, so each message
# lands in exactly one folder and the bench can check that none was lost.
require ["fileinto", "mailbox", "imap4flags"];

# 1-2: what the gateway's spam filter marked
if header :is "X-Spam-Flag" "YES" {
    fileinto :create "Junk";
    stop;
}
if header :contains "X-Spam-Level" "*****" {
    fileinto :create "Junk";
    stop;
}
# 3-5: mailing lists (RFC 2919 List-Id)
if header :contains "List-Id" "<dev.lists.example>" {
    fileinto :create "DevList";
    stop;
}
if header :contains "List-Id" "announce.lists.example" {
    addflag "\\Seen";
    fileinto :create "Announce";
    stop;
}
if exists "List-Id" {
    fileinto :create "Lists";
    stop;
}
# 6: bulk mail and newsletters
if anyof (header :is "Precedence" "bulk", exists "List-Unsubscribe") {
    fileinto :create "Newsletters";
    stop;
}
# 7-8: machine notifications
if address :domain :is "from" "github.example" {
    fileinto :create "Notifications";
    stop;
}
if address :localpart :is "from" ["noreply", "no-reply", "notifications"] {
    fileinto :create "Notifications";
    stop;
}
# 9-10: money
if header :contains "subject" ["invoice", "receipt", "order confirmation"] {
    addflag "\\Flagged";
    fileinto :create "Invoices";
    stop;
}
if address :domain :is "from" "shop.example" {
    fileinto :create "Shopping";
    stop;
}
# 11-12: work, the urgent flagged
if address :domain :is "from" "corp.example" {
    if header :contains "subject" "urgent" {
        addflag "\\Flagged";
    }
    fileinto :create "Work";
    stop;
}
# 13: family
if address :domain :is "from" ["family.example", "home.example"] {
    fileinto :create "Family";
    stop;
}
# 14: calendar invitations
if header :matches "subject" "Invitation: *" {
    fileinto :create "Calendar";
    stop;
}
# 15-16: large mail
if allof (size :over 60K, header :contains "content-type" "multipart") {
    fileinto :create "Attachments";
    stop;
}
if size :over 80K {
    fileinto :create "Big";
    stop;
}
# 17: travel
if header :contains "subject" ["[travel]", "booking", "itinerary"] {
    fileinto :create "Travel";
    stop;
}
# 18-20: more junk
if not exists "Message-ID" {
    fileinto :create "Junk";
    stop;
}
if header :contains "X-Mailer" "BulkMailer" {
    fileinto :create "Newsletters";
    stop;
}
if header :contains "subject" ["lottery", "you have won", "viagra"] {
    fileinto :create "Junk";
    stop;
}
