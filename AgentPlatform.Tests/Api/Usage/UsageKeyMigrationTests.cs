using System.Net.Http.Json;
using System.Text.RegularExpressions;
using AgentPlatform.Api;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Usage;

/// <summary>The usage ledger written under the names of before the hash tags, after an upgrade.</summary>
public sealed partial class UsageKeyMigrationTests
{
    [Fact]
    public async Task Records_roll_ups_and_the_timeline_written_before_the_tags_are_merged_with_the_new_ones_at_start()
    {
        await using var redis = await TestRedis.StartAsync();
        await using var simulator = PlatformFixture.StartSimulator();
        await using var router = new KestrelApp<RouterOptions>(RouterSettings.OneSimulator(redis.ConnectionString, simulator.BaseAddress)).Start();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var database = connection.GetDatabase();
        var server = connection.GetServer(connection.GetEndPoints().Single());

        // What the version before the tags wrote: two requests' ledger, under the old names. Made by this
        // version's ledger and renamed, so the content is what a ledger writes.
        await using var first = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(redis, router.BaseAddress)).Start();
        await SendAsync(first, 2, expected: 2);
        var old = new Dictionary<string, byte[]>();
        foreach (var key in server.Keys(pattern: "agentplatform:{usage:*"))
        {
            var oldName = DayTag().Replace((string)key!, "usage:");
            old[oldName] = (await database.KeyDumpAsync(key))!;
            await database.KeyDeleteAsync(key);
        }
        // Meanwhile a replica of this version writes one more under the new names (the same hour, mostly)…
        await SendAsync(first, 1, expected: 1);
        // …and the old version's keys are still there.
        foreach (var (name, dump) in old)
        {
            await database.KeyRestoreAsync(name, dump, TimeSpan.FromDays(1));
        }

        await using var upgraded = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(redis, router.BaseAddress)).Start();
        using var admin = ApiCalls.Admin(upgraded);
        var records = await admin.GetStringAsync("/admin/v1/usage?format=jsonl");
        var summary = await admin.GetFromJsonAsync<UsageSummary>("/admin/v1/usage/summary?granularity=day");
        var timeline = await admin.GetFromJsonAsync<TimelineView>("/admin/v1/usage/timeline?window=hour");

        Assert.Equal(3, records.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(3, summary!.Data.Sum(row => row.Requests));
        Assert.Equal(3, timeline!.Totals.Requests);
        Assert.Empty(server.Keys(pattern: "agentplatform:usage:*"));
        Assert.All(server.Keys(pattern: "agentplatform:{usage:*"), key => Assert.True(database.KeyTimeToLive(key) > TimeSpan.Zero, $"{key} kept its expiry"));
    }

    private static async Task SendAsync(KestrelApp<ApiOptions> api, int requests, int expected)
    {
        using var client = ApiCalls.Client(api, PlatformFixture.MasterKey);
        for (var i = 0; i < requests; i++)
        {
            using var answer = await client.PostAsync("/v1/chat/completions", Json.Chat(extra: $",\"seed\":{i}"));
            answer.EnsureSuccessStatusCode();
        }
        using var admin = ApiCalls.Admin(api);
        await ApiCalls.LedgerAsync(admin, "model=default", expected);
    }

    [GeneratedRegex(@"\{usage:\d{8}\}:")]
    private static partial Regex DayTag();
}
