using System.Text.Json.Nodes;
using AgentPlatform.Api;
using AgentPlatform.Api.Responses;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Responses;

/// <summary>The stored responses' scripts on a real Redis — one node and a Redis Cluster — with time in the test's hands.</summary>
public sealed class ResponseStoreTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));

    private static StoredResponse Turn(string id, string? previousId, string said) => new(
        new JsonObject { ["id"] = id, ["object"] = "response", ["output"] = new JsonArray(Message("assistant", $"answer to {said}")) },
        new JsonArray(Message("user", said)), previousId);

    private static JsonObject Message(string role, string text) => new() { ["type"] = "message", ["role"] = role, ["content"] = text };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_conversation_is_stored_a_turn_each_and_walked_back_whole_in_one_script(bool cluster)
    {
        await using var redis = await StoreOnRedis.StartAsync(cluster, _time);
        var store = redis.Store;
        var sums = new List<long>();
        string? previous = null;
        for (var turn = 0; turn < 12; turn++)
        {
            var id = $"resp_{turn}";
            sums.Add(await store.SaveAsync("ten_a", Turn(id, previous, $"turn {turn} " + new string('x', 1000))));
            previous = id;
        }

        var conversation = await store.WalkAsync("ten_a", "resp_11", maxBytes: 1 << 20);

        // Each turn adds its own bytes only: linear, not the whole conversation again.
        var added = sums.Zip(sums.Skip(1), (before, after) => after - before).ToList();
        Assert.All(added, bytes => Assert.InRange(bytes, added[0] - 8, added[0] + 8));
        Assert.Equal(ConversationWalk.Found, conversation.Outcome);
        Assert.Equal(Enumerable.Range(0, 12).Select(turn => $"turn {turn} " + new string('x', 1000)),
            conversation.Turns.Select(turn => turn.Input[0]!["content"]!.GetValue<string>()));
        Assert.Equal("answer to turn 11 " + new string('x', 1000), conversation.Turns[^1].Response["output"]![0]!["content"]!.GetValue<string>());
        Assert.Equal(sums[^1], conversation.OwnerStoredBytes);
        // Another owner's chain is not walked into.
        Assert.Equal(ConversationWalk.Missing, (await store.WalkAsync("ten_b", "resp_11", 1 << 20)).Outcome);
    }

    [Fact]
    public async Task A_deleted_response_breaks_the_chains_through_it_and_leaves_the_sum()
    {
        await using var redis = await StoreOnRedis.StartAsync(cluster: false, _time);
        var store = redis.Store;
        var withOne = await store.SaveAsync("ten_a", Turn("resp_1", null, "one"));
        var withTwo = await store.SaveAsync("ten_a", Turn("resp_2", "resp_1", "two"));
        var total = await store.SaveAsync("ten_a", Turn("resp_3", "resp_2", "three"));

        Assert.True(await store.DeleteAsync("ten_a", "resp_2"));
        Assert.False(await store.DeleteAsync("ten_a", "resp_2"));

        var broken = await store.WalkAsync("ten_a", "resp_3", 1 << 20);
        Assert.Equal((ConversationWalk.Missing, "resp_2"), (broken.Outcome, broken.At));
        var sum = (await store.WalkAsync("ten_a", null, 1 << 20)).OwnerStoredBytes;
        Assert.Equal(total - (withTwo - withOne), sum);
        Assert.Null(await store.GetAsync("ten_a", "resp_2"));
        Assert.NotNull(await store.GetAsync("ten_a", "resp_3"));
    }

    [Fact]
    public async Task Responses_whose_time_is_up_leave_the_sum_and_a_walk_keeps_its_chain_alive()
    {
        await using var redis = await StoreOnRedis.StartAsync(cluster: false, _time);
        var store = redis.Store;
        var first = await store.SaveAsync("ten_a", Turn("resp_old", null, "old"));
        _time.Advance(TimeSpan.FromDays(20));
        // Twenty days on, the old one's chain is continued: it is kept another 30 days from now.
        await store.WalkAsync("ten_a", "resp_old", 1 << 20);
        _time.Advance(TimeSpan.FromDays(5));
        var both = await store.SaveAsync("ten_a", Turn("resp_new", null, "new"));

        _time.Advance(TimeSpan.FromDays(6));
        var pastTheOldOnesFirstTerm = (await store.WalkAsync("ten_a", null, 1 << 20)).OwnerStoredBytes;
        _time.Advance(TimeSpan.FromDays(21));
        var afterTheOldExpired = (await store.WalkAsync("ten_a", null, 1 << 20)).OwnerStoredBytes;
        _time.Advance(TimeSpan.FromDays(4));
        var afterBothExpired = (await store.WalkAsync("ten_a", null, 1 << 20)).OwnerStoredBytes;

        Assert.Equal(both, pastTheOldOnesFirstTerm);
        Assert.Equal(both - first, afterTheOldExpired);
        Assert.Equal(0, afterBothExpired);
    }

    [Fact]
    public async Task A_response_stored_whole_by_the_build_before_chains_is_still_read_and_continued()
    {
        await using var redis = await StoreOnRedis.StartAsync(cluster: false, _time);
        var store = redis.Store;
        var legacy = new JsonObject
        {
            ["response"] = Turn("resp_legacy", null, "second").Response,
            ["input"] = new JsonArray(Message("user", "first"), Message("assistant", "answer to first"), Message("user", "second")),
        };
        await redis.Connection.GetDatabase().StringSetAsync("agentplatform:{t:ten_a}:responses:resp_legacy", legacy.ToJsonString());
        await store.SaveAsync("ten_a", Turn("resp_after", "resp_legacy", "third"));

        var conversation = await store.WalkAsync("ten_a", "resp_after", 1 << 20);

        Assert.Equal("resp_legacy", (await store.GetAsync("ten_a", "resp_legacy"))!["id"]!.GetValue<string>());
        Assert.Equal(["first", "answer to first", "second", "third"],
            conversation.Turns.SelectMany(turn => turn.Input).Select(item => item!["content"]!.GetValue<string>()));
        Assert.True(await store.DeleteAsync("ten_a", "resp_legacy"));
        Assert.Null(await store.GetAsync("ten_a", "resp_legacy"));
    }

    [Fact]
    public async Task A_walk_past_its_byte_bound_stops_and_says_so()
    {
        await using var redis = await StoreOnRedis.StartAsync(cluster: false, _time);
        var store = redis.Store;
        string? previous = null;
        for (var turn = 0; turn < 10; turn++)
        {
            await store.SaveAsync("ten_a", Turn($"resp_{turn}", previous, new string('y', 1000)));
            previous = $"resp_{turn}";
        }

        Assert.Equal(ConversationWalk.TooLarge, (await store.WalkAsync("ten_a", "resp_9", maxBytes: 5_000)).Outcome);
        Assert.Equal(ConversationWalk.Found, (await store.WalkAsync("ten_a", "resp_9", maxBytes: 50_000)).Outcome);
    }

    /// <summary>A Redis (one node or a cluster), connected, and a store on it with the default options.</summary>
    private sealed class StoreOnRedis(RedisUnderTest redis, ConnectionMultiplexer connection, ResponseStore store) : IAsyncDisposable
    {
        public ConnectionMultiplexer Connection { get; } = connection;

        public ResponseStore Store { get; } = store;

        public static async Task<StoreOnRedis> StartAsync(bool cluster, TimeProvider time)
        {
            var redis = await RedisUnderTest.StartAsync(cluster);
            var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
            return new(redis, connection, new ResponseStore(connection, Options.Create(new ApiOptions()), time));
        }

        public async ValueTask DisposeAsync()
        {
            await Connection.DisposeAsync();
            await redis.DisposeAsync();
        }
    }
}
