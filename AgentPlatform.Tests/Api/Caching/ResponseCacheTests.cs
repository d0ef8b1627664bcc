using System.ClientModel;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgentPlatform.Api.Caching;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using OpenAI;
using OpenAI.Chat;

namespace AgentPlatform.Tests.Api.Caching;

/// <summary>
/// The response cache through two Api replicas: single flight, takeover, replay, scope, and what makes a
/// request the same — on one Redis node (<see cref="ResponseCacheTests"/>) and on a Redis Cluster.
/// </summary>
public abstract class ResponseCacheSuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>, IAsyncLifetime
    where TFixture : CacheFixture
{
    public Task InitializeAsync() => fixture.ResetSimulatorAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Two_hundred_identical_requests_over_two_replicas_reach_the_provider_once_and_get_one_answer()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var first = CacheFixture.Client(fixture.First, key);
        using var second = CacheFixture.Client(fixture.Second, key);

        // A quarter of them stream: one entry serves both forms.
        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            SendAsync(i % 2 == 0 ? first : second, Chat("Tell me about single flight", stream: i % 4 == 0))));

        Assert.Equal(1, await fixture.UpstreamCallsAsync());
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Single(answers.Select(a => a.Content).Distinct());
        Assert.False(string.IsNullOrWhiteSpace(answers[0].Content));
        Assert.Equal(1, answers.Count(a => a.Cache == "miss"));
        Assert.Equal(199, answers.Count(a => a.Cache == "hit"));
    }

    [Fact]
    public async Task When_the_filler_fails_a_waiter_takes_over_with_one_more_upstream_call()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var first = CacheFixture.Client(fixture.First, key);
        using var second = CacheFixture.Client(fixture.Second, key);
        // The first call fails, slowly enough that the others are waiting for it when it does.
        await fixture.InjectAsync(new { kind = "500", rate = 1.0, count = 1, delayMs = 300 });

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            SendAsync(i % 2 == 0 ? first : second, Chat("Fail first, then answer"))));

        Assert.Equal(2, await fixture.UpstreamCallsAsync());
        var failed = Assert.Single(answers, a => a.Status != HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.BadGateway, failed.Status); // the Router's answer to a provider's 500
        var answered = answers.Where(a => a.Status == HttpStatusCode.OK).ToList();
        Assert.Equal(49, answered.Count);
        Assert.Single(answered.Select(a => a.Content).Distinct());
        Assert.Equal(1, answered.Count(a => a.Cache == "miss"));
    }

    [Fact]
    public async Task A_fill_that_outlives_its_lease_keeps_it_and_nobody_else_goes_upstream()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var first = CacheFixture.Client(fixture.First, key);
        using var second = CacheFixture.Client(fixture.Second, key);
        // The first answer takes 10 s: two and a half times the fixture's four-second lease.
        await fixture.InjectAsync(new { kind = "stall-first", rate = 1.0, count = 1, delayMs = 10_000 });

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => SendAsync(i % 2 == 0 ? first : second, Chat("A slow answer"))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Equal(1, await fixture.UpstreamCallsAsync());
        Assert.Equal(1, answers.Count(a => a.Cache == "miss"));
    }

    [Fact]
    public async Task When_the_filler_dies_a_waiter_takes_over_once_its_lease_runs_out()
    {
        var (tenantId, _, key) = await fixture.NewKeyAsync();
        var body = """{"model":"default","messages":[{"role":"user","content":"My filler died"}]}""";
        // A replica that took the fill lease and died: nobody renews it or says it gave up.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        var entry = ResponseCache.EntryKey(tenantId, CacheKey.Compute(Encoding.UTF8.GetBytes(body)));
        Assert.True(await redis.GetDatabase().StringSetAsync(entry + ":fill", "dead-replica", TimeSpan.FromMilliseconds(1500)));
        using var client = CacheFixture.Client(fixture.Second, key);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => SendAsync(client, Json.Body(body))));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(10));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Equal(1, answers.Count(a => a.Cache == "miss"));
        Assert.Equal(1, await fixture.UpstreamCallsAsync());
    }

    [Fact]
    public async Task A_fill_is_announced_to_other_replicas_only_when_one_of_them_waits()
    {
        var (tenantId, _, key) = await fixture.NewKeyAsync();
        using var first = CacheFixture.Client(fixture.First, key);
        using var second = CacheFixture.Client(fixture.Second, key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        var announced = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await redis.GetSubscriber().SubscribeAsync(ResponseCache.FillsChannel, (_, message) => announced.Enqueue(message!));
        string Entry(string body) => ResponseCache.EntryKey(tenantId, CacheKey.Compute(Encoding.UTF8.GetBytes(body)));
        var alone = """{"model":"default","messages":[{"role":"user","content":"Nobody waits for me"}]}""";
        var awaited = """{"model":"default","messages":[{"role":"user","content":"Someone waits for me"}]}""";

        await SendAsync(first, Json.Body(alone));
        var filling = SendAsync(first, Json.Body(awaited));
        await Eventually.TrueAsync(() => redis.GetDatabase().KeyExistsAsync(Entry(awaited) + ":fill"), "the fill's lease (the simulator takes 300 ms)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var waiter = await SendAsync(second, Json.Body(awaited));
        var waited = clock.Elapsed;
        await filling;
        // Announcements of one replica arrive in order: the awaited one's means the other's would be in already.
        await Eventually.TrueAsync(() => announced.Contains(Entry(awaited)), "the awaited fill's announcement");

        Assert.Equal("hit", waiter.Cache);
        Assert.True(waited < TimeSpan.FromMilliseconds(900), $"woken by the announcement, not its one-second poll: {waited}");
        Assert.Contains(Entry(awaited), announced);
        Assert.DoesNotContain(Entry(alone), announced);
    }

    [Fact]
    public async Task Entries_written_together_expire_apart_within_the_configured_ttl()
    {
        var (tenantId, _, key) = await fixture.NewKeyAsync(key: new { name = "100 s", cacheTtlSeconds = 100 });
        using var client = CacheFixture.Client(fixture.First, key);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => SendAsync(client, Chat($"Entry {i}"))));

        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        // The entries alone (not their fill leases or waiting marks), once all are written: the store is sent
        // before the answer ends but not awaited by the client, so it may land just after the answers.
        var ttls = await Eventually.ReadAsync(async () =>
        {
            var found = new List<double>();
            foreach (var server in redis.GetServers().Where(server => !server.IsReplica))
            {
                await foreach (var entry in server.KeysAsync(pattern: ResponseCache.ScopePattern(tenantId)))
                {
                    if (!entry.ToString().EndsWith(":fill", StringComparison.Ordinal) && !entry.ToString().EndsWith(":waiting", StringComparison.Ordinal)
                        && await redis.GetDatabase().KeyTimeToLiveAsync(entry) is { } ttl)
                    {
                        found.Add(ttl.TotalSeconds);
                    }
                }
            }
            return found;
        }, found => found.Count >= 8, "the eight answers' cache entries");
        Assert.Equal(8, ttls.Count);
        Assert.All(ttls, ttl => Assert.InRange(ttl, 89, 100));
        Assert.True(ttls.Distinct().Count() > 1, "the jitter spreads their expiries");
    }

    [Fact]
    public async Task A_streamed_answer_is_replayed_to_the_openai_sdk_as_a_normal_stream_and_served_as_json()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        var client = new ChatClient("default", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(fixture.First.BaseAddress, "/v1") });
        var options = new ChatCompletionOptions { Temperature = 0.2f };
        ChatMessage[] messages = [new UserChatMessage("Stream this, then replay it")];

        var original = await StreamWithSdkAsync(client, messages, options);
        var replayed = await StreamWithSdkAsync(client, messages, options);
        using var http = CacheFixture.Client(fixture.Second, key);
        var asJson = await SendAsync(http, Json.Body(
            """{"model":"default","temperature":0.2,"messages":[{"role":"user","content":"Stream this, then replay it"}]}"""));

        Assert.Equal(1, await fixture.UpstreamCallsAsync());
        Assert.False(string.IsNullOrWhiteSpace(original.Text));
        Assert.Equal(original.Text, replayed.Text);
        Assert.Equal(ChatFinishReason.Stop, replayed.FinishReason);
        Assert.NotNull(replayed.Usage);
        Assert.Equal(original.Usage!.OutputTokenCount, replayed.Usage.OutputTokenCount);
        Assert.Equal(original.Usage.InputTokenCount, replayed.Usage.InputTokenCount);
        Assert.Equal(("hit", original.Text), (asJson.Cache, asJson.Content));
    }

    [Fact]
    public async Task A_json_answer_is_replayed_as_a_valid_stream_with_usage_only_when_asked()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        var json = await SendAsync(client, Chat("Answer in JSON first"));

        using var withUsage = await client.PostAsync("/v1/chat/completions", Chat("Answer in JSON first", stream: true, extra: ""","stream_options":{"include_usage":true}"""));
        var events = await Json.ReadEventsAsync(withUsage);
        using var withoutUsage = await client.PostAsync("/v1/chat/completions", Chat("Answer in JSON first", stream: true));
        var plain = await Json.ReadEventsAsync(withoutUsage);

        Assert.Equal("hit", withUsage.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal("text/event-stream", withUsage.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal(json.Content, string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "")));
        Assert.Equal("stop", chunks.Last(c => c.GetProperty("choices").GetArrayLength() > 0).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(json.Usage!.Value.GetProperty("completion_tokens").GetInt32(), chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.DoesNotContain(plain, e => e.Contains("\"usage\"", StringComparison.Ordinal));
        Assert.Equal(1, await fixture.UpstreamCallsAsync());
    }

    [Fact]
    public async Task Two_tenants_sending_the_same_request_never_share_an_entry()
    {
        var (_, _, alice) = await fixture.NewKeyAsync(new { name = "Alice's company" });
        var (_, _, bob) = await fixture.NewKeyAsync(new { name = "Bob's company" });
        using var aliceClient = CacheFixture.Client(fixture.First, alice);
        using var bobClient = CacheFixture.Client(fixture.First, bob);

        var aliceFirst = await SendAsync(aliceClient, Chat("Same words, different tenants"));
        var bobFirst = await SendAsync(bobClient, Chat("Same words, different tenants"));
        var aliceAgain = await SendAsync(aliceClient, Chat("Same words, different tenants"));
        var bobAgain = await SendAsync(bobClient, Chat("Same words, different tenants"));

        Assert.Equal("miss,miss,hit,hit", string.Join(',', new[] { aliceFirst.Cache, bobFirst.Cache, aliceAgain.Cache, bobAgain.Cache }));
        Assert.Equal(2, await fixture.UpstreamCallsAsync());
    }

    [Fact]
    public async Task No_cache_skips_the_read_but_refreshes_the_entry_and_no_store_reads_but_never_writes()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);

        var noStoreMiss = await SendAsync(client, Chat("Cache-Control, please"), "no-store");
        var stillEmpty = await SendAsync(client, Chat("Cache-Control, please"));
        var noCache = await SendAsync(client, Chat("Cache-Control, please"), "no-cache");
        var noStoreHit = await SendAsync(client, Chat("Cache-Control, please"), "no-store");
        var neither = await SendAsync(client, Chat("Cache-Control, please"), "no-cache, no-store");

        Assert.Equal("miss,miss,miss,hit,bypass", string.Join(',', new[] { noStoreMiss.Cache, stillEmpty.Cache, noCache.Cache, noStoreHit.Cache, neither.Cache }));
        Assert.Equal(4, await fixture.UpstreamCallsAsync());
    }

    [Fact]
    public async Task Identical_no_store_requests_do_not_wait_for_each_other()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        // The provider holds every answer: only requests that do not wait for each other all reach it.
        await fixture.InjectAsync(new { kind = "timeout", rate = 1.0, count = 8 });
        using var leaving = new CancellationTokenSource();
        var requests = Enumerable.Range(0, 8).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("Never stored") };
            request.Headers.TryAddWithoutValidation("Cache-Control", "no-store");
            return client.SendAsync(request, leaving.Token);
        }).ToList();

        var atTheProvider = await Eventually.ReadAsync(fixture.UpstreamInFlightAsync, count => count == 8, "all eight at the provider at once");
        await leaving.CancelAsync();
        await Task.WhenAll(requests.Select(r => r.ContinueWith(static t => t.Exception, TaskScheduler.Default)));

        Assert.Equal(8, atTheProvider);
    }

    private const string Original = """{"model":"default","temperature":0.5,"messages":[{"role":"user","content":"What changes the answer?"}]}""";

    [Theory]
    [InlineData("""{"model":"default","temperature":0.9,"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"seed":7,"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"max_tokens":5,"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"stop":["."],"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"messages":[{"role":"user","content":"What changes the answer!"}]}""")]
    [InlineData("""{"model":"default","temperature":0.5,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What changes the answer?"}]}""")]
    [InlineData("""{"model":"priced","temperature":0.5,"messages":[{"role":"user","content":"What changes the answer?"}]}""")]
    public async Task A_change_that_can_change_the_answer_misses(string changed)
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        var original = await SendAsync(client, Json.Body(Original));

        var answer = await SendAsync(client, Json.Body(changed));

        Assert.Equal(("miss", "miss"), (original.Cache, answer.Cache));
    }

    [Theory]
    [InlineData("""{"model":"default","temperature":0.5,"messages":[{"role":"user","content":"What changes the answer?"}],"user":"someone-else"}""")]
    [InlineData("""{"model":"default","temperature":0.5,"messages":[{"role":"user","content":"What changes the answer?"}],"metadata":{"trace":"abc"},"store":false}""")]
    [InlineData("""{ "messages": [ { "content": "What changes the answer?", "role": "user" } ], "temperature": 0.50, "model": "default" }""")]
    [InlineData("""{"model":"default","temperature":5e-1,"stream":false,"messages":[{"role":"user","content":"What changes the \u0061nswer?"}]}""")]
    public async Task A_change_that_cannot_change_the_answer_hits(string request)
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        var original = await SendAsync(client, Json.Body(Original));

        var same = await SendAsync(client, Json.Body(request));

        Assert.Equal(("miss", "hit"), (original.Cache, same.Cache));
        Assert.Equal(original.Content, same.Content);
    }

    [Fact]
    public async Task A_tenant_or_key_turns_the_cache_off_and_a_model_group_turned_off_stays_off()
    {
        var tenantId = await fixture.CreateTenantAsync(new { name = "no caching", cacheEnabled = false });
        var (_, off) = await fixture.CreateKeyAsync(tenantId, new { name = "follows its tenant" });
        var (_, on) = await fixture.CreateKeyAsync(tenantId, new { name = "turns it back on", cacheEnabled = true });
        using var offClient = CacheFixture.Client(fixture.First, off);
        using var onClient = CacheFixture.Client(fixture.First, on);

        var offTwice = new[] { await SendAsync(offClient, Chat("Per tenant")), await SendAsync(offClient, Chat("Per tenant")) };
        var onTwice = new[] { await SendAsync(onClient, Chat("Per tenant")), await SendAsync(onClient, Chat("Per tenant")) };
        var groupOff = new[] { await SendAsync(onClient, Chat("Per tenant", model: "uncached")), await SendAsync(onClient, Chat("Per tenant", model: "uncached")) };

        Assert.Equal("bypass,bypass", string.Join(',', offTwice.Select(a => a.Cache)));
        Assert.Equal("miss,hit", string.Join(',', onTwice.Select(a => a.Cache)));
        Assert.Equal("bypass,bypass", string.Join(',', groupOff.Select(a => a.Cache)));
    }

    [Fact]
    public async Task A_request_can_shorten_the_ttl_and_a_bad_ttl_is_refused()
    {
        var (tenantId, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        const string HalfMinute = """{"model":"default","messages":[{"role":"user","content":"Kept for half a minute"}]}""";
        var entry = ResponseCache.EntryKey(tenantId, CacheKey.Compute(Encoding.UTF8.GetBytes(HalfMinute)));

        // Half a minute, against the configured hour: stored for at most that, and a hit meanwhile.
        var stored = await SendAsync(client, Json.Body(HalfMinute), ttl: "30");
        var timeLeft = await Eventually.ReadAsync(() => redis.GetDatabase().KeyTimeToLiveAsync(entry), left => left is not null, "the entry to be stored");
        var hit = await SendAsync(client, Json.Body(HalfMinute));
        // One second: gone within the wait, and the next request a miss. (Not "a hit, then a miss": on a
        // loaded machine the second can be over before the hit is asked for.)
        var shortLived = await SendAsync(client, Chat("Short-lived"), ttl: "1");
        var expired = await Eventually.ReadAsync(() => SendAsync(client, Chat("Short-lived")), answer => answer.Cache == "miss", "the one-second entry to expire");
        using var bad = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("Short-lived") };
        bad.Headers.Add("x-agentplatform-cache-ttl", "soon");
        using var refused = await client.SendAsync(bad);

        Assert.Equal("miss,hit,miss,miss", string.Join(',', new[] { stored.Cache, hit.Cache, shortLived.Cache, expired.Cache }));
        Assert.InRange(timeLeft!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("invalid_cache_ttl", (await Json.ReadErrorAsync(refused)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Errors_and_streams_cut_short_are_never_stored()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);

        await fixture.InjectAsync(new { kind = "500", rate = 1.0, count = 1 });
        var failed = await SendAsync(client, Chat("Not after an error"));
        var afterError = await SendAsync(client, Chat("Not after an error"));
        await fixture.InjectAsync(new { kind = "reset-mid", rate = 1.0, count = 1 });
        using var cut = await client.PostAsync("/v1/chat/completions", Chat("Not after a cut", stream: true));
        await cut.Content.ReadAsStringAsync();
        var afterCut = await SendAsync(client, Chat("Not after a cut", stream: true));

        Assert.Equal(HttpStatusCode.BadGateway, failed.Status); // the Router's answer to a provider's 500
        Assert.Equal("miss", afterError.Cache);
        Assert.Equal("miss", afterCut.Cache);
        Assert.Equal(4, await fixture.UpstreamCallsAsync());
    }

    [Fact]
    public async Task Purging_a_tenant_empties_its_entries_on_every_replica_and_leaves_the_others()
    {
        var (tenantId, _, key) = await fixture.NewKeyAsync();
        var (_, _, other) = await fixture.NewKeyAsync();
        using var first = CacheFixture.Client(fixture.First, key);
        using var second = CacheFixture.Client(fixture.Second, key);
        using var otherClient = CacheFixture.Client(fixture.Second, other);
        await SendAsync(first, Chat("Purge me"));
        var inSecondsMemory = await SendAsync(second, Chat("Purge me"));
        await SendAsync(otherClient, Chat("Purge me"));

        using var admin = fixture.Admin();
        using var purge = await admin.DeleteAsync($"/admin/v1/cache?tenantId={tenantId}");
        var purged = await Json.ReadAsync(purge);
        // The purge reaches the other replica's memory through Redis pub/sub; until then it may still hit.
        var afterPurge = await Eventually.ReadAsync(() => SendAsync(second, Chat("Purge me")), answer => answer.Cache == "miss", "the purge to reach the second replica");
        var othersKept = await SendAsync(otherClient, Chat("Purge me"));
        using var bad = await admin.DeleteAsync("/admin/v1/cache?tenantId=*");

        Assert.Equal("hit", inSecondsMemory.Cache);
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        Assert.Equal(1, purged.GetProperty("deleted").GetInt64());
        Assert.Equal("cache.purge", purged.GetProperty("object").GetString());
        Assert.Equal(tenantId, purged.GetProperty("tenantId").GetString());
        Assert.Equal(("miss", "hit"), (afterPurge.Cache, othersKept.Cache));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task An_answer_larger_than_its_groups_entry_limit_is_passed_on_and_not_kept()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        // The simulator calls the tool, with an argument per property: well over 1 KiB of answer.
        var properties = string.Join(",", Enumerable.Range(0, 40).Select(i => $"\"a_rather_long_property_name_{i:00}\":{{\"type\":\"string\"}}"));
        var large = """{"model":"tiny","messages":[{"role":"user","content":"Use the tool"}],"tools":[{"type":"function","function":{"name":"wide","parameters":{"type":"object","properties":{"""
            + properties + "}}}}]}";

        var first = await SendAsync(client, Json.Body(large));
        var again = await SendAsync(client, Json.Body(large));
        var small = new[] { await SendAsync(client, Chat("Short", model: "tiny")), await SendAsync(client, Chat("Short", model: "tiny")) };
        var elsewhere = new[] { await SendAsync(client, Json.Body(large.Replace("\"tiny\"", "\"default\""))), await SendAsync(client, Json.Body(large.Replace("\"tiny\"", "\"default\""))) };

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("miss,miss", string.Join(',', first.Cache, again.Cache));
        Assert.Equal("miss,hit", string.Join(',', small.Select(a => a.Cache)));
        Assert.Equal("miss,hit", string.Join(',', elsewhere.Select(a => a.Cache))); // the same answer fits the default limit
    }

    [Fact]
    public async Task Hits_misses_bypasses_waits_and_savings_are_counted_in_the_metrics()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        var factory = fixture.First.Services.GetRequiredService<IMeterFactory>();
        var measured = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name.StartsWith("agentplatform.cache.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var outcome = instrument.Name == "agentplatform.cache.requests" ? "." + tags.ToArray().Single(t => t.Key == "outcome").Value : "";
            measured.AddOrUpdate(instrument.Name + outcome, value, (_, sum) => sum + value);
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        listener.Start();

        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => SendAsync(client, Chat("Count me", model: "priced"))));
        await SendAsync(client, Chat("Count me", model: "uncached"));
        // Counted in the request's bookkeeping, which may end just after the client has its answer.
        await Eventually.TrueAsync(() => measured.GetValueOrDefault("agentplatform.cache.requests.miss") + measured.GetValueOrDefault("agentplatform.cache.requests.hit") >= 5
            && measured.GetValueOrDefault("agentplatform.cache.requests.bypass") >= 1, "the six requests' cache outcomes to be counted");

        Assert.Equal(1, measured.GetValueOrDefault("agentplatform.cache.requests.miss"));
        Assert.Equal(4, measured.GetValueOrDefault("agentplatform.cache.requests.hit"));
        Assert.Equal(1, measured.GetValueOrDefault("agentplatform.cache.requests.bypass"));
        Assert.InRange(measured.GetValueOrDefault("agentplatform.cache.fill_waits"), 1, 4);
        Assert.True(measured.GetValueOrDefault("agentplatform.cache.tokens_saved") >= 4 * 9, "four hits of a 9-token answer at least");
        Assert.True(measured.GetValueOrDefault("agentplatform.cache.cost_saved") > 0);
    }

    [Fact]
    public async Task An_answer_enters_a_replicas_memory_when_it_is_read_again_not_when_it_is_stored()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        using var client = CacheFixture.Client(fixture.First, key);
        var factory = fixture.First.Services.GetRequiredService<IMeterFactory>();
        var levels = new ConcurrentQueue<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == "agentplatform.cache.requests")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var tagged = tags.ToArray();
            levels.Enqueue($"{tagged.Single(t => t.Key == "outcome").Value}:{tagged.Single(t => t.Key == "level").Value}");
        });
        listener.Start();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, Chat("Remember me on the second ask"))).Status);
        }

        // Each outcome is counted as its request ends, which can be just after the client has its answer.
        await Eventually.TrueAsync(() => Task.FromResult(levels.Count >= 3), "the three requests' outcomes to be counted");

        // Stored by the first; read from Redis by the second, which keeps it in memory for the third.
        Assert.Equal(["miss:", "hit:shared", "hit:local"], levels);
    }

    [Fact]
    public async Task A_hit_costs_nothing_is_recorded_with_what_it_saved_and_counts_as_a_request_but_not_tokens()
    {
        var (_, keyId, key) = await fixture.NewKeyAsync(key: new { name = "three a minute", rpm = 3, tpm = 60 });
        using var client = CacheFixture.Client(fixture.First, key);

        var miss = await SendAsync(client, Chat("What does a hit save?", model: "priced", extra: ",\"max_tokens\":20"));
        var hits = new[]
        {
            await SendAsync(client, Chat("What does a hit save?", model: "priced", extra: ",\"max_tokens\":20")),
            await SendAsync(client, Chat("What does a hit save?", model: "priced", extra: ",\"max_tokens\":20")),
        };
        var fourth = await SendAsync(client, Chat("What does a hit save?", model: "priced", extra: ",\"max_tokens\":20"));

        Assert.Equal("miss", miss.Cache);
        Assert.All(hits, h => Assert.Equal("hit", h.Cache));
        Assert.Equal(HttpStatusCode.TooManyRequests, fourth.Status);
        using var ledger = fixture.Admin();
        var records = await ApiCalls.LedgerAsync(ledger, $"keyId={keyId}", expected: 4);
        var stored = Assert.Single(records, r => r.GetProperty("cache").GetString() == "miss");
        var cost = stored.GetProperty("costUsd").GetDecimal();
        Assert.True(cost > 0);
        Assert.All(records.Where(r => r.GetProperty("cache").GetString() == "hit"), r =>
        {
            Assert.Equal(0, r.GetProperty("promptTokens").GetInt64() + r.GetProperty("completionTokens").GetInt64());
            Assert.Equal(0m, r.GetProperty("costUsd").GetDecimal());
            Assert.Equal(stored.GetProperty("promptTokens").GetInt64() + stored.GetProperty("completionTokens").GetInt64(), r.GetProperty("savedTokens").GetInt64());
            Assert.Equal(cost, r.GetProperty("savedCostUsd").GetDecimal());
        });
        using var admin = fixture.Admin();
        var summary = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/usage/summary?keyId={keyId}");
        var row = Assert.Single(summary.GetProperty("data").EnumerateArray());
        Assert.Equal(2, row.GetProperty("cacheHits").GetInt64());
        Assert.Equal(cost * 2, row.GetProperty("savedCostUsd").GetDecimal());
    }

    [Fact]
    public async Task A_hit_is_refused_while_its_key_has_no_free_concurrency_slot_and_holds_none_itself()
    {
        var (tenantId, keyId, key) = await fixture.NewKeyAsync(key: new { name = "one at a time", maxConcurrent = 1 });
        using var client = CacheFixture.Client(fixture.First, key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        var leases = (RedisKey)$"agentplatform:{{t:{tenantId}}}:limits:key:{keyId}:leases";
        Assert.Equal("miss", (await SendAsync(client, Chat("Cached before the slow one"))).Cache);

        // A miss the provider holds for 2 s takes the key's only slot.
        await fixture.InjectAsync(new { kind = "stall-first", rate = 1.0, delayMs = 2_000, count = 1 });
        var slow = SendAsync(client, Chat("The slow one"));
        await Eventually.TrueAsync(async () =>
        {
            Assert.False(slow.IsCompleted, "the slow request ended before it was seen holding its slot");
            return await redis.GetDatabase().SortedSetLengthAsync(leases) > 0;
        }, "the slow request to hold the key's slot");
        var refused = await SendAsync(client, Chat("Cached before the slow one"));
        Assert.Equal(HttpStatusCode.OK, (await slow).Status);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        // With the slot free, hits one after another all pass, and none leaves a slot taken.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("hit", (await SendAsync(client, Chat("Cached before the slow one"))).Cache);
            Assert.Equal(0, await redis.GetDatabase().SortedSetLengthAsync(leases));
        }
    }

    [Fact]
    public async Task A_request_its_limits_refuse_leaves_no_fill_to_wait_for_and_the_next_one_goes_upstream_at_once()
    {
        // One tenant, so one entry: a key whose budget no request fits, and a key without limits.
        var (tenantId, _, broke) = await fixture.NewKeyAsync(key: new { name = "broke", budgetUsd = 0.000001m });
        var (_, unlimited) = await fixture.CreateKeyAsync(tenantId, new { name = "unlimited" });
        using var refusedClient = CacheFixture.Client(fixture.First, broke);
        using var client = CacheFixture.Client(fixture.Second, unlimited);
        const string Body = """{"model":"priced","messages":[{"role":"user","content":"Refused, then answered"}],"max_tokens":1000}""";
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        var entry = ResponseCache.EntryKey(tenantId, CacheKey.Compute(Encoding.UTF8.GetBytes(Body)));

        var refused = await SendAsync(refusedClient, Json.Body(Body));
        // On one node the refusal came from the lookup's own script: it must not have kept the lease.
        var leaseLeft = await redis.GetDatabase().KeyExistsAsync(entry + ":fill");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answered = await SendAsync(client, Json.Body(Body));

        Assert.Equal(HttpStatusCode.PaymentRequired, refused.Status);
        Assert.False(leaseLeft, "a refused request left the entry's fill lease behind");
        Assert.Equal(HttpStatusCode.OK, answered.Status);
        Assert.Equal("miss", answered.Cache);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(3)); // not the 4 s lease run out
        Assert.Equal(1, await fixture.UpstreamCallsAsync());
    }

    [Fact]
    public async Task A_stored_answer_settles_its_request_its_spend_is_what_it_cost_and_its_slot_is_free()
    {
        // On one node the store's script also settles the request: the worst case it reserved (1,000 tokens of
        // output) is corrected to what the answer cost, and its concurrency slot is given back.
        var (tenantId, keyId, key) = await fixture.NewKeyAsync(key: new { name = "settled", budgetUsd = 10m, maxConcurrent = 1 });
        using var client = CacheFixture.Client(fixture.First, key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.RedisConnectionString);
        var leases = (RedisKey)$"agentplatform:{{t:{tenantId}}}:limits:key:{keyId}:leases";

        var answer = await SendAsync(client, Chat("Settle me when stored", model: "priced", extra: ",\"max_tokens\":1000"));
        var entry = ResponseCache.EntryKey(tenantId, CacheKey.Compute(Encoding.UTF8.GetBytes(
            """{"model":"priced","stream":false,"messages":[{"role":"user","content":"Settle me when stored"}],"max_tokens":1000}""")));
        await Eventually.TrueAsync(() => redis.GetDatabase().KeyExistsAsync(entry), "the answer to be stored");
        using var admin = fixture.Admin();
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", expected: 1));
        var spend = (await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/spend?tenantId={tenantId}")).GetProperty("data").EnumerateArray()
            .Single(s => s.GetProperty("id").GetString() == keyId);

        Assert.Equal("miss", answer.Cache);
        Assert.True(record.GetProperty("costUsd").GetDecimal() > 0);
        Assert.Equal(record.GetProperty("costUsd").GetDecimal(), spend.GetProperty("spentUsd").GetDecimal());
        Assert.Equal(0, await redis.GetDatabase().SortedSetLengthAsync(leases));
    }

    private static StringContent Chat(string message, bool stream = false, string model = "default", string extra = "") =>
        Json.Body($$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{message}}"}]{{extra}}}""");

    private sealed record Answer(HttpStatusCode Status, string? Cache, string? Content, JsonElement? Usage);

    /// <summary>Sends a chat completion; the answer's text whether it came as JSON or as a stream.</summary>
    private static async Task<Answer> SendAsync(HttpClient client, HttpContent content, string? cacheControl = null, string? ttl = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content };
        if (cacheControl is not null)
        {
            request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        }
        if (ttl is not null)
        {
            request.Headers.Add("x-agentplatform-cache-ttl", ttl);
        }
        using var response = await client.SendAsync(request);
        var cache = response.Headers.TryGetValues("x-agentplatform-cache", out var values) ? values.Single() : null;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            await response.Content.ReadAsStringAsync();
            return new Answer(response.StatusCode, cache, null, null);
        }
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            var text = new StringBuilder();
            foreach (var data in await Json.ReadEventsAsync(response))
            {
                if (data != "[DONE]" && JsonDocument.Parse(data).RootElement.GetProperty("choices") is { } choices && choices.GetArrayLength() > 0
                    && choices[0].GetProperty("delta").TryGetProperty("content", out var part) && part.ValueKind == JsonValueKind.String)
                {
                    text.Append(part.GetString());
                }
            }
            return new Answer(response.StatusCode, cache, text.ToString(), null);
        }
        var json = await Json.ReadAsync(response);
        var message = json.GetProperty("choices")[0].GetProperty("message");
        var said = message.TryGetProperty("tool_calls", out var calls) ? calls.GetRawText() : message.GetProperty("content").GetString();
        return new Answer(response.StatusCode, cache, said, json.GetProperty("usage"));
    }

    private static async Task<(string Text, ChatFinishReason? FinishReason, ChatTokenUsage? Usage)> StreamWithSdkAsync(
        ChatClient client, ChatMessage[] messages, ChatCompletionOptions options)
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        return (text.ToString(), finish, usage);
    }
}

public sealed class ResponseCacheTests(CacheFixture fixture) : ResponseCacheSuite<CacheFixture>(fixture);

public sealed class ResponseCacheOnClusterTests(ClusterCacheFixture fixture) : ResponseCacheSuite<ClusterCacheFixture>(fixture);
