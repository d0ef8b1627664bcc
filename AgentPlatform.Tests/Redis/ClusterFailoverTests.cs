using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using AgentPlatform.Api;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Usage;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace AgentPlatform.Tests.Redis;

/// <summary>
/// A shard of the Redis Cluster loses its master under steady load through two Api and two Router
/// replicas: its replica takes over, and the gateway carries on — refusing for a moment what it cannot
/// check, never answering 500, never hanging, never letting a limit or a budget go.
/// </summary>
[Collection(HeavyLoadCollection.Name)]
public sealed class ClusterFailoverTests(ITestOutputHelper output)
{
    private const int Rpm = 120;
    private const decimal BudgetUsd = 1m;

    [Theory]
    [InlineData("limits")]
    [InlineData("ledger")]
    public async Task Killing_the_master_of_a_busy_shard_costs_some_503s_and_no_limit_budget_or_record(string shard)
    {
        await using var cluster = await TestRedisCluster.StartAsync(failover: true);
        await using var simulator = PlatformFixture.StartSimulator();
        var routerSettings = RouterSettings.OneSimulator(cluster.ConnectionString, simulator.BaseAddress, pricesPerMillion: (1000, 1000));
        await using var firstRouter = new KestrelApp<RouterOptions>(routerSettings).Start();
        await using var secondRouter = new KestrelApp<RouterOptions>(routerSettings).Start();
        await using var first = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(cluster.ConnectionString, firstRouter.BaseAddress)).Start();
        await using var second = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(cluster.ConnectionString, secondRouter.BaseAddress)).Start();
        var tenantId = await ApiCalls.CreateTenantAsync(first, new { name = "Busy" });
        // Two keys of the tenant, so both limits live in the shard that fails: one held by its requests per
        // minute, one by its budget (a request reserves about two cents: 12 + 10 tokens at $1,000 per million).
        var (rateKeyId, rateKey) = await ApiCalls.CreateKeyAsync(first, tenantId, new { name = "rate", rpm = Rpm });
        var (budgetKeyId, budgetKey) = await ApiCalls.CreateKeyAsync(first, tenantId, new { name = "budget", budgetUsd = BudgetUsd });
        HttpClient[] clients = [ApiCalls.Client(first, rateKey), ApiCalls.Client(second, rateKey), ApiCalls.Client(first, budgetKey), ApiCalls.Client(second, budgetKey)];
        foreach (var client in clients)
        {
            client.Timeout = TimeSpan.FromSeconds(30);
        }

        var answers = new ConcurrentQueue<(DateTimeOffset At, HttpStatusCode Status, bool RetryAfter, string? Code, TimeSpan Took)>();
        using var stop = new CancellationTokenSource();
        var started = DateTimeOffset.UtcNow;
        var load = Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var took = Stopwatch.StartNew();
                using var response = await clients[(worker + i) % clients.Length].PostAsync("/v1/chat/completions", Json.Chat(extra: $",\"max_tokens\":10,\"seed\":{i}"));
                var code = response.IsSuccessStatusCode ? null : (await Json.ReadErrorAsync(response)).GetProperty("code").GetString();
                answers.Enqueue((DateTimeOffset.UtcNow, response.StatusCode, response.Headers.RetryAfter is not null, code, took.Elapsed));
                if (code is not null)
                {
                    // A refused client backs off a moment, as any would: steady load, not a spin on quick refusals.
                    await Task.Delay(50);
                }
            }
        })));
        await Eventually.TrueAsync(() => Task.FromResult(answers.Count >= 40), "the load's first 40 answers");
        var killedAt = DateTimeOffset.UtcNow;
        // The shard of the tenant's limits and spend, or the one of today's usage records (the run may
        // straddle midnight UTC: then it is the shard that held yesterday's, and the test is no weaker
        // for the limits).
        var ledgerKey = UsageLedger.RecordsKey(UsageLedger.HourOf(killedAt));
        var killedKey = shard == "limits" ? $"{TenantSlot.Prefix(tenantId)}limits" : ledgerKey;
        var ledgerShardDies = await cluster.SameMasterAsync(killedKey, ledgerKey);
        var limitsShardDies = await cluster.SameMasterAsync(killedKey, $"{TenantSlot.Prefix(tenantId)}limits");
        var failover = await cluster.KillMasterOfAsync(killedKey);
        var overAt = DateTimeOffset.UtcNow;
        var countAtOver = answers.Count;
        await Eventually.TrueAsync(() => Task.FromResult(answers.Count >= countAtOver + 80), "80 answers after the failover", Eventually.Slowly);
        await stop.CancelAsync();
        await load;

        var all = answers.ToList();
        using var admin = ApiCalls.Admin(first);
        // Every record is written once both Apis have written all they hold: a redis-server's kill loses
        // nothing its master acknowledged (TestRedisCluster.KillMasterOfAsync), so a batch the dying master
        // never answered is written again to its successor. Garnet's master is stopped as it stands: the last
        // batch it acknowledged may not have reached its replica, at most one per Api replica.
        await Eventually.TrueAsync(() => Task.FromResult(new[] { first, second }.All(api => api.Services.GetRequiredService<UsageLedger>().SpoolDepth == 0)),
            "both Apis to have written every record they hold", Eventually.Slowly);
        var lossBound = ledgerShardDies && !cluster.KillKeepsAcknowledgedWrites ? 2 * UsageLedger.BatchSize : 0;
        var records = await ApiCalls.LedgerAsync(admin, $"tenantId={tenantId}", expected: all.Count - lossBound);
        var rateServed = records.Count(r => r.GetProperty("keyId").GetString() == rateKeyId && r.GetProperty("outcome").GetString() == "success");
        var budgetSpent = records.Where(r => r.GetProperty("keyId").GetString() == budgetKeyId).Sum(r => r.GetProperty("costUsd").GetDecimal());
        var unavailable = all.Count(a => a.Status == HttpStatusCode.ServiceUnavailable);
        output.WriteLine($"{shard} shard: failover took {failover.TotalSeconds:0.0} s; {all.Count} answers: " +
            string.Join(", ", all.GroupBy(a => $"{(int)a.Status} {a.Code}").Select(g => $"{g.Key.Trim()} x{g.Count()}")) +
            $"; slowest {all.Max(a => a.Took).TotalSeconds:0.00} s; rate key served {rateServed} of {Rpm}; budget key spent ${budgetSpent} of ${BudgetUsd}; " +
            $"{records.Count} records for {all.Count} answers; the limits' shard {(limitsShardDies ? "died" : "lived")}, the ledger's {(ledgerShardDies ? "died" : "lived")}; " +
            (unavailable == 0 ? "no 503" : $"503s from {all.Where(a => a.Status == HttpStatusCode.ServiceUnavailable).Min(a => a.At) - killedAt:s\\.ff} s " +
                $"to {all.Where(a => a.Status == HttpStatusCode.ServiceUnavailable).Max(a => a.At) - killedAt:s\\.ff} s after the kill"));

        // Every answer is one a client can act on, and came in time: a request waits out the Redis client's
        // timeout (5 s) at most twice — its key read again after the connection failed (then served as
        // known), and its limits (then refused 503).
        Assert.All(all, a => Assert.Contains(a.Status, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.PaymentRequired, HttpStatusCode.ServiceUnavailable }));
        Assert.All(all.Where(a => a.Status == HttpStatusCode.ServiceUnavailable), a => Assert.True(a.RetryAfter, $"a 503 ({a.Code}) without Retry-After"));
        Assert.All(all, a => Assert.True(a.Took < TimeSpan.FromSeconds(20), $"an answer took {a.Took}"));
        // Once the replica has taken over, nothing sent is unavailable (a request sent to the dead master
        // before that waits out the Redis client's timeout, 5 s, and is answered 503 after it).
        Assert.DoesNotContain(all, a => a.Status == HttpStatusCode.ServiceUnavailable && a.At - a.Took > overAt + TimeSpan.FromSeconds(1));
        // The limits held through it (the whole run is under a minute, so the rpm counts for all of it).
        Assert.True(all.Max(a => a.At) - started < TimeSpan.FromSeconds(55), "the run must fit in the rate limit's minute");
        Assert.InRange(rateServed, 1, Rpm);
        Assert.InRange(budgetSpent, 0.01m, BudgetUsd);
        // Every answer left its record, once.
        Assert.InRange(records.Count, all.Count - lossBound, all.Count);
    }
}
