using System.Diagnostics.Metrics;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Usage;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Limits;

/// <summary>The limiter's scripts on a real Redis, with time in the test's hands.</summary>
public sealed class RequestLimiterTests : IAsyncLifetime
{
    private TestRedis _redis = null!;
    private ConnectionMultiplexer _connection = null!;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    public async Task InitializeAsync()
    {
        _redis = await TestRedis.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Requests_that_reserve_no_tokens_leave_the_window_without_breaking_the_next_check()
    {
        // A key with only a requests limit reserves no tokens; when its requests leave the window, the
        // script takes 0 from the running total — which once failed every request after the first minute.
        var client = new ClientIdentity(new VirtualKey { Id = "key_rpm_only", TenantId = "ten_rpm_only", Name = "rpm only", Rpm = 3 }, new Tenant { Id = "ten_rpm_only", Name = "t" });
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var refusals = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == "agentplatform.limits.refusals")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            refusals.Add(string.Join(',', tags.ToArray().OrderBy(t => t.Key).Select(t => t.Value))));
        listener.Start();
        var limiter = new RequestLimiter(_connection, new UsageMetrics(factory), _time, NullLogger<RequestLimiter>.Instance);

        var first = await AcquireAsync(limiter, client, times: 4);
        _time.Advance(TimeSpan.FromSeconds(61));
        var later = await AcquireAsync(limiter, client, times: 4);

        Assert.Equal([200, 200, 200, 429], first);
        Assert.Equal([200, 200, 200, 429], later);
        // Each refusal is counted, naming the limit and whose it is (agentplatform.limit, agentplatform.scope).
        Assert.Equal(["requests,key", "requests,key"], refusals);
    }

    [Fact]
    public async Task A_request_that_outlives_its_lease_keeps_its_concurrency_slot_until_it_ends()
    {
        var client = new ClientIdentity(new VirtualKey { Id = "key_long_stream", TenantId = "ten_long_stream", Name = "one at a time", MaxConcurrent = 1 }, new Tenant { Id = "ten_long_stream", Name = "t" });
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var limiter = new RequestLimiter(_connection, new UsageMetrics(services.GetRequiredService<IMeterFactory>()), _time, NullLogger<RequestLimiter>.Instance);
        var held = (await limiter.AcquireAsync(client, default, new HeaderDictionary())).Lease;
        Assert.NotNull(held);

        // Twenty minutes of a long stream or agent run: past the 15-minute lease, renewed a third of it at a time.
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromMinutes(20); elapsed += RequestLimiter.LeaseLifetime / 3)
        {
            _time.Advance(RequestLimiter.LeaseLifetime / 3);
            await held.LastRenewal;
        }

        Assert.Equal([429], await AcquireAsync(limiter, client, times: 1));
        await held.DisposeAsync();
        Assert.Equal([200], await AcquireAsync(limiter, client, times: 1));
    }

    [Fact]
    public async Task A_daily_budget_spent_today_is_whole_again_at_midnight_and_a_monthly_one_is_not()
    {
        // The same key and tenant objects all along, as a replica's authenticator keeps them: the limits'
        // Redis keys it makes once per key and period must move to the new day's spend at midnight.
        var client = new ClientIdentity(
            new VirtualKey { Id = "key_daily", TenantId = "ten_monthly", Name = "daily", BudgetUsd = 1m, BudgetPeriod = BudgetPeriods.Daily },
            new Tenant { Id = "ten_monthly", Name = "t", BudgetUsd = 1.5m, BudgetPeriod = BudgetPeriods.Monthly });
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var limiter = new RequestLimiter(_connection, new UsageMetrics(services.GetRequiredService<IMeterFactory>()), _time, NullLogger<RequestLimiter>.Instance);
        var dollar = new Demand(1, BudgetPeriod.ToNanoUsd(1m));
        var quarter = new Demand(1, BudgetPeriod.ToNanoUsd(0.25m));

        var today = await limiter.AcquireAsync(client, dollar, new HeaderDictionary());
        await today.Lease!.SettleAsync(1, BudgetPeriod.ToNanoUsd(1m));
        var todayAgain = await limiter.AcquireAsync(client, quarter, new HeaderDictionary());
        _time.Advance(TimeSpan.FromHours(12)); // 2026-11-28 00:00
        var tomorrow = await limiter.AcquireAsync(client, quarter, new HeaderDictionary());
        await tomorrow.Lease!.SettleAsync(1, BudgetPeriod.ToNanoUsd(0.25m));
        var tomorrowPastTheTenant = await limiter.AcquireAsync(client, new Demand(1, BudgetPeriod.ToNanoUsd(0.5m)), new HeaderDictionary());

        Assert.Equal("budget_exceeded", todayAgain.Refusal?.Code);
        Assert.Contains("key 'daily'", todayAgain.Refusal!.Message);
        Assert.Null(tomorrow.Refusal);
        // The tenant's month goes on: $1.25 of $1.50 spent, so $0.50 more is refused, by the tenant.
        Assert.Contains("tenant 't'", tomorrowPastTheTenant.Refusal?.Message);
        var db = _connection.GetDatabase();
        Assert.Equal(BudgetPeriod.ToNanoUsd(1m), (long)await db.StringGetAsync("agentplatform:{t:ten_monthly}:spend:key:key_daily:2026-11-27"));
        Assert.Equal(BudgetPeriod.ToNanoUsd(0.25m), (long)await db.StringGetAsync("agentplatform:{t:ten_monthly}:spend:key:key_daily:2026-11-28"));
    }

    [Fact]
    public async Task A_reservation_lost_in_a_failover_is_not_refunded_by_its_settlement()
    {
        // A failover can lose what a dying master acknowledged and its replica never had: here, a reservation.
        // The request's settlement reaches the promoted replica and must not refund what was never added there.
        var key = new VirtualKey { Id = "key_failover", TenantId = "ten_failover", Name = "k", BudgetUsd = 1m, BudgetPeriod = BudgetPeriods.Daily };
        var tenant = new Tenant { Id = "ten_failover", Name = "t", BudgetUsd = 1m, BudgetPeriod = BudgetPeriods.Daily };
        var client = new ClientIdentity(key, tenant);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var limiter = new RequestLimiter(_connection, new UsageMetrics(services.GetRequiredService<IMeterFactory>()), _time, NullLogger<RequestLimiter>.Instance);
        var keys = LimitKeys.Of(key, tenant, _time.GetUtcNow());
        var db = _connection.GetDatabase();
        var settled = (await limiter.AcquireAsync(client, new Demand(1, BudgetPeriod.ToNanoUsd(0.30m)), new HeaderDictionary())).Lease!;
        await settled.SettleAsync(1, BudgetPeriod.ToNanoUsd(0.10m));

        var lost = (await limiter.AcquireAsync(client, new Demand(1, BudgetPeriod.ToNanoUsd(0.50m)), new HeaderDictionary())).Lease!;
        // The failover: the node holds what it held before that reservation (its spend, and no lease of it).
        await db.StringSetAsync(keys.Keys[3], BudgetPeriod.ToNanoUsd(0.10m));
        await db.StringSetAsync(keys.Keys[7], BudgetPeriod.ToNanoUsd(0.10m));
        await db.KeyDeleteAsync(keys.Leases);
        await lost.SettleAsync(1, BudgetPeriod.ToNanoUsd(0.05m));
        // An ordinary settlement still corrects the spend to what was used.
        var next = (await limiter.AcquireAsync(client, new Demand(1, BudgetPeriod.ToNanoUsd(0.40m)), new HeaderDictionary())).Lease!;
        await next.SettleAsync(1, BudgetPeriod.ToNanoUsd(0.20m));

        Assert.Equal(BudgetPeriod.ToNanoUsd(0.30m), (long)await db.StringGetAsync(keys.Keys[3]));
        Assert.Equal(BudgetPeriod.ToNanoUsd(0.30m), (long)await db.StringGetAsync(keys.Keys[7]));
        Assert.Equal(0, await db.SortedSetLengthAsync(keys.Leases[0]) + await db.SortedSetLengthAsync(keys.Leases[1]));
    }

    private static async Task<List<int>> AcquireAsync(RequestLimiter limiter, ClientIdentity client, int times)
    {
        var statuses = new List<int>();
        for (var i = 0; i < times; i++)
        {
            var (lease, refusal) = await limiter.AcquireAsync(client, default, new HeaderDictionary());
            statuses.Add(refusal?.StatusCode ?? 200);
            if (lease is not null)
            {
                await lease.SettleAsync(0, 0);
            }
        }
        return statuses;
    }
}
