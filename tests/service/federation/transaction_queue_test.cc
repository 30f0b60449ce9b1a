// The outbound transaction queue over a real RocksDB (transaction_queue.h): batching limits,
// persistence across a reopen (what a restart or kill -9 leaves), backoff with the same txnId
// and entries on retry, MarkReachable, the admin's view. The remote server is a function
// standing in for it (the queue's Send seam); the clock is injected.
#include "conclave/service/federation/transaction_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "conclave/database/database.h"
#include "database/temp_dir.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

// One transaction as the stand-in server received it.
struct Received {
  std::string destination;
  std::string uri;
  object body;
};

class TransactionQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = database::Database::Open({.path = dir_.Sub("db")});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    Reopen();
  }

  // A new queue on the same database: what a restart does.
  void Reopen() {
    queue_.reset();
    auto queue = TransactionQueue::Open(TransactionQueue::Deps{
        .server_name = "origin.example",
        .db = *db_,
        .send =
            [this](std::string_view destination, std::string_view uri, const value& body) {
              received_.push_back({std::string(destination), std::string(uri), body.as_object()});
              core::HttpClientResponse response;
              if (!reachable_)
                return absl::StatusOr<core::HttpClientResponse>(
                    absl::UnavailableError("connection refused"));
              response.status = status_;
              response.body = "{\"pdus\":{}}";
              return absl::StatusOr<core::HttpClientResponse>(response);
            },
        .options = [this] { return retry_; },
        .clock = [this] { return now_; }});
    ASSERT_TRUE(queue.ok()) << queue.status();
    queue_ = *std::move(queue);
  }

  void Edu(const std::string& destination, int n) {
    ASSERT_TRUE(queue_->EnqueueEdu(destination, "m.test", object{{"n", n}}).ok());
  }

  TransactionQueue::PassResult Pass() {
    auto result = queue_->RunPass();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : TransactionQueue::PassResult{};
  }

  // The `n` of each EDU of received transaction `i`.
  std::vector<int64_t> EduNumbers(size_t i) {
    std::vector<int64_t> out;
    for (const value& edu : received_.at(i).body.at("edus").as_array()) {
      out.push_back(edu.at("content").at("n").as_int64());
    }
    return out;
  }

  database::test_util::TempDir dir_;
  std::unique_ptr<database::Database> db_;
  std::unique_ptr<TransactionQueue> queue_;
  std::vector<Received> received_;
  bool reachable_ = true;
  int status_ = 200;
  FederationRetryOptions retry_{.initial = absl::Seconds(5), .max = absl::Seconds(60)};
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST(FederationRetryDelay, DoublesUpToTheMaximum) {
  const FederationRetryOptions options{.initial = absl::Seconds(5), .max = absl::Seconds(60)};
  EXPECT_EQ(FederationRetryDelay(1, options), absl::Seconds(5));
  EXPECT_EQ(FederationRetryDelay(2, options), absl::Seconds(10));
  EXPECT_EQ(FederationRetryDelay(4, options), absl::Seconds(40));
  EXPECT_EQ(FederationRetryDelay(5, options), absl::Seconds(60));
  EXPECT_EQ(FederationRetryDelay(1000, options), absl::Seconds(60));
}

TEST_F(TransactionQueueTest, SendsATransactionAndRemovesItsEntriesAfter200) {
  Edu("b.example", 1);
  Edu("b.example", 2);
  TransactionQueue::PassResult pass = Pass();
  EXPECT_EQ(pass.sent, 1);
  EXPECT_EQ(pass.failed, 0);
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].destination, "b.example");
  EXPECT_THAT(received_[0].uri, ::testing::StartsWith("/_matrix/federation/v1/send/"));
  const object& body = received_[0].body;
  EXPECT_EQ(body.at("origin"), "origin.example");
  EXPECT_EQ(body.at("origin_server_ts").as_int64(), absl::ToUnixMillis(now_));
  EXPECT_TRUE(body.at("pdus").as_array().empty());
  EXPECT_EQ(EduNumbers(0), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(body.at("edus").as_array()[0].at("edu_type"), "m.test");
  // Nothing left: the next pass sends nothing.
  EXPECT_EQ(Pass().sent, 0);
  EXPECT_EQ(received_.size(), 1u);
}

TEST_F(TransactionQueueTest, BatchesAtMost50PdusAnd100Edus) {
  database::WriteBatch batch;
  for (int i = 0; i < 60; ++i) {
    queue_->AddPdu(batch, "b.example", object{{"event_id", "$" + std::to_string(i)}});
  }
  for (int i = 0; i < 130; ++i) {
    queue_->AddEdu(batch, "b.example", "m.test", object{{"n", i}});
  }
  ASSERT_TRUE(db_->Write(batch).ok());
  TransactionQueue::PassResult pass = Pass();
  EXPECT_EQ(pass.sent, 2);
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].body.at("pdus").as_array().size(), 50u);
  EXPECT_EQ(received_[0].body.at("edus").as_array().size(), 100u);
  EXPECT_EQ(received_[1].body.at("pdus").as_array().size(), 10u);
  EXPECT_EQ(received_[1].body.at("edus").as_array().size(), 30u);
  EXPECT_EQ(received_[0].body.at("pdus").as_array()[0].at("event_id"), "$0");
  EXPECT_EQ(received_[1].body.at("pdus").as_array()[0].at("event_id"), "$50");
  EXPECT_EQ(EduNumbers(1).front(), 100);
  EXPECT_NE(received_[0].uri, received_[1].uri);  // a new txnId after a 200
}

TEST_F(TransactionQueueTest, QueueSurvivesReopen) {
  Edu("b.example", 1);
  Edu("c.example", 2);
  Reopen();  // as after a restart or kill -9: the entries are in RocksDB
  Edu("b.example", 3);
  EXPECT_EQ(Pass().sent, 2);
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].destination, "b.example");
  EXPECT_EQ(EduNumbers(0), (std::vector<int64_t>{1, 3}));  // order kept across the reopen
  EXPECT_EQ(received_[1].destination, "c.example");
  EXPECT_EQ(EduNumbers(1), (std::vector<int64_t>{2}));
}

TEST_F(TransactionQueueTest, FailureBacksOffAndRetriesTheSameTransaction) {
  reachable_ = false;
  Edu("b.example", 1);
  TransactionQueue::PassResult pass = Pass();
  EXPECT_EQ(pass.failed, 1);
  ASSERT_TRUE(pass.next_due.has_value());
  EXPECT_EQ(*pass.next_due, now_ + absl::Seconds(5));
  const std::string first_uri = received_.at(0).uri;

  // Queued meanwhile: not part of the unanswered transaction.
  Edu("b.example", 2);
  // Not due yet: nothing is sent.
  now_ += absl::Seconds(4);
  EXPECT_EQ(Pass().failed, 0);
  EXPECT_EQ(received_.size(), 1u);

  // Due: the same txnId with the same entries; fails again, and the wait doubles.
  now_ += absl::Seconds(1);
  status_ = 500;
  reachable_ = true;
  pass = Pass();
  EXPECT_EQ(pass.failed, 1);
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[1].uri, first_uri);
  EXPECT_EQ(EduNumbers(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(*pass.next_due, now_ + absl::Seconds(10));

  // A restart in between keeps the id and the backoff.
  Reopen();
  now_ += absl::Seconds(10);
  status_ = 200;
  pass = Pass();
  EXPECT_EQ(pass.sent, 2);
  ASSERT_EQ(received_.size(), 4u);
  EXPECT_EQ(received_[2].uri, first_uri);
  EXPECT_EQ(EduNumbers(2), (std::vector<int64_t>{1}));
  EXPECT_NE(received_[3].uri, first_uri);
  EXPECT_EQ(EduNumbers(3), (std::vector<int64_t>{2}));
}

TEST_F(TransactionQueueTest, AnEntryCommittedLateDoesNotJoinAnUnansweredTransaction) {
  database::WriteBatch late;
  queue_->AddEdu(late, "b.example", "m.test", object{{"n", 1}});  // numbered first...
  Edu("b.example", 2);                                            // ...written first
  status_ = 500;
  EXPECT_EQ(Pass().failed, 1);
  ASSERT_TRUE(db_->Write(late).ok());
  now_ += absl::Seconds(5);
  status_ = 200;
  EXPECT_EQ(Pass().sent, 2);
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_EQ(received_[1].uri, received_[0].uri);
  EXPECT_EQ(EduNumbers(1), (std::vector<int64_t>{2}));  // the retry carries what the first did
  EXPECT_EQ(EduNumbers(2), (std::vector<int64_t>{1}));
}

TEST_F(TransactionQueueTest, BackoffIsCappedAndOtherDestinationsGoOn) {
  reachable_ = false;
  Edu("b.example", 1);
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 6; ++i) {
    TransactionQueue::PassResult pass = Pass();
    ASSERT_EQ(pass.failed, 1);
    waits.push_back(*pass.next_due - now_);
    if (i < 5) now_ = *pass.next_due;
  }
  // 5, 10, 20, 40, then the 60 s cap.
  EXPECT_EQ(waits,
            (std::vector<absl::Duration>{absl::Seconds(5), absl::Seconds(10), absl::Seconds(20),
                                         absl::Seconds(40), absl::Seconds(60), absl::Seconds(60)}));
  Edu("c.example", 2);  // another destination is not held up
  EXPECT_EQ(Pass().failed, 1);
  EXPECT_EQ(received_.back().destination, "c.example");
  auto destinations = queue_->Destinations();
  ASSERT_TRUE(destinations.ok());
  ASSERT_EQ(destinations->size(), 2u);
  EXPECT_EQ((*destinations)[0].attempts, 6);
  EXPECT_EQ(*(*destinations)[0].next_attempt, now_ + absl::Seconds(60));
  EXPECT_EQ((*destinations)[0].queued_edus, 1u);
  EXPECT_THAT((*destinations)[0].last_error, ::testing::HasSubstr("connection refused"));
  EXPECT_FALSE((*destinations)[0].last_success.has_value());
}

TEST_F(TransactionQueueTest, MarkReachableEndsTheBackoff) {
  reachable_ = false;
  Edu("b.example", 1);
  EXPECT_EQ(Pass().failed, 1);
  reachable_ = true;
  EXPECT_EQ(Pass().sent, 0);  // still in backoff
  queue_->MarkReachable("b.example");
  EXPECT_EQ(Pass().sent, 1);
  auto destinations = queue_->Destinations();
  ASSERT_TRUE(destinations.ok());
  ASSERT_EQ(destinations->size(), 1u);
  EXPECT_EQ((*destinations)[0].attempts, 0);
  EXPECT_EQ((*destinations)[0].queued_edus, 0u);
  EXPECT_EQ(*(*destinations)[0].last_success, now_);
  EXPECT_FALSE((*destinations)[0].next_attempt.has_value());
}

TEST_F(TransactionQueueTest, StartedThreadSendsWhatIsQueued) {
  // The real clock and the worker thread: Wake after queueing sends at once.
  std::atomic<int> sends{0};
  queue_.reset();
  auto queue = TransactionQueue::Open(
      TransactionQueue::Deps{.server_name = "origin.example",
                             .db = *db_,
                             .send =
                                 [&](std::string_view, std::string_view, const value&) {
                                   ++sends;
                                   core::HttpClientResponse response;
                                   response.status = 200;
                                   return absl::StatusOr<core::HttpClientResponse>(response);
                                 },
                             .options = [this] { return retry_; }});
  ASSERT_TRUE(queue.ok());
  queue_ = *std::move(queue);
  ASSERT_TRUE(queue_->Start().ok());
  Edu("b.example", 1);
  for (int i = 0; i < 500 && sends.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  queue_->Stop();
  EXPECT_EQ(sends.load(), 1);
}

}  // namespace
}  // namespace conclave::service
