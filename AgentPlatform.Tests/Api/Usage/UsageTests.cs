using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Usage;

/// <summary>Tokens per minute, budgets, and the usage ledger: exact under concurrency, over two Api replicas, on one Redis node (<see cref="UsageTests"/>) and on a Redis Cluster.</summary>
public abstract class UsageSuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : TenancyFixture
{
    [Fact]
    public async Task A_request_for_n_answers_reserves_n_times_its_output_and_n_is_capped()
    {
        // A cent: one answer of at most 10 tokens at $200 per million (plus its prompt) fits, eight do not.
        var (_, key) = await CreateKeyAsync(new { name = "Many answers" }, new { name = "one cent", budgetUsd = 0.01, budgetPeriod = "daily" });
        using var client = TenancyFixture.Client(fixture.First, key);

        using var eight = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", extra: ",\"max_tokens\":10,\"n\":8"));
        using var one = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", extra: ",\"max_tokens\":10,\"n\":1"));
        using var nine = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", extra: ",\"max_tokens\":10,\"n\":9"));
        using var zero = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", extra: ",\"n\":0"));

        Assert.Equal(HttpStatusCode.PaymentRequired, eight.StatusCode);
        Assert.Equal("budget_exceeded", (await Json.ReadErrorAsync(eight)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, nine.StatusCode);
        var tooMany = await Json.ReadErrorAsync(nine);
        Assert.Equal("n", tooMany.GetProperty("param").GetString());
        Assert.Contains("AgentPlatform:MaxChoices", tooMany.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode);
        Assert.Equal("n", (await Json.ReadErrorAsync(zero)).GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/embeddings")]
    [InlineData("/v1/messages")]
    [InlineData("/v1/responses")]
    public async Task Five_hundred_concurrent_requests_never_spend_past_a_budget_and_the_refused_get_402_naming_it(string door)
    {
        var (keyId, key) = await CreateKeyAsync(new { name = "Budgeted" }, new { name = "five cents", budgetUsd = 0.05, budgetPeriod = "daily" });
        using var first = TenancyFixture.Client(fixture.First, key);
        using var second = TenancyFixture.Client(fixture.Second, key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 500).Select(async i =>
        {
            using var response = await (i % 2 == 0 ? first : second).PostAsync(door, door == "/v1/embeddings"
                ? Json.Embeddings(model: "priced-embed", extra: $",\"user\":\"{i}\"")
                : Json.AtDoor(door, "priced", stream: i % 3 == 0, maxTokens: 20));
            await response.Content.ReadAsStringAsync();
            return (response.StatusCode, Error: response.StatusCode == HttpStatusCode.OK ? null : (JsonElement?)await Json.ReadErrorAsync(response));
        }));

        var records = await LedgerAsync($"keyId={keyId}", expected: 500);
        var spent = records.Sum(r => r.GetProperty("costUsd").GetDecimal());
        Assert.InRange(spent, 0.001m, 0.05m);
        var answered = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        Assert.InRange(answered, 1, 499);
        Assert.Equal(answered, records.Count(r => r.GetProperty("outcome").GetString() == "success" && r.GetProperty("costUsd").GetDecimal() > 0));
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.PaymentRequired, r.StatusCode);
            Assert.Equal("budget_exceeded", r.Error!.Value.GetProperty("code").GetString());
            Assert.StartsWith("Budget exhausted for key 'five cents': $", r.Error!.Value.GetProperty("message").GetString());
        });
        Assert.All(records.Where(r => r.GetProperty("status").GetInt32() == 402), r => Assert.Equal("refused", r.GetProperty("outcome").GetString()));
    }

    [Fact]
    public async Task A_key_of_10000_tokens_a_minute_gets_no_more_whatever_the_mix_of_streams_and_json()
    {
        var (keyId, key) = await CreateKeyAsync(new { name = "Token-limited" }, new { name = "ten thousand", tpm = 10_000 });
        using var first = TenancyFixture.Client(fixture.First, key);
        using var second = TenancyFixture.Client(fixture.Second, key);

        var started = DateTimeOffset.UtcNow;
        var responses = new List<(HttpStatusCode Status, string? Message)>();
        for (var wave = 0; wave < 8; wave++)
        {
            responses.AddRange(await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
            {
                using var response = await (i % 2 == 0 ? first : second).PostAsync("/v1/chat/completions",
                    Json.Chat(stream: i % 2 == 1, extra: $",\"max_tokens\":{40 + i % 30},\"n\":1"));
                await response.Content.ReadAsStringAsync();
                return (response.StatusCode, response.StatusCode == HttpStatusCode.OK ? null : (await Json.ReadErrorAsync(response)).GetProperty("message").GetString());
            })));
        }
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(50), "the run must fit in one minute for the assertion to mean anything");

        var records = await LedgerAsync($"keyId={keyId}", expected: 800);
        var used = records.Where(r => r.GetProperty("outcome").GetString() == "success")
            .Sum(r => r.GetProperty("promptTokens").GetInt64() + r.GetProperty("completionTokens").GetInt64());
        Assert.InRange(used, 5_000, 10_000);
        var refused = responses.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.Status);
            Assert.StartsWith("Rate limit reached for key 'ten thousand': 10000 tokens per minute", r.Message);
        });
    }

    [Fact]
    public async Task Ten_thousand_mixed_requests_leave_exactly_ten_thousand_records_whose_tokens_match_the_simulator()
    {
        using var admin = fixture.Admin();
        var tenantId = await fixture.CreateTenantAsync(new { name = "Mixed traffic" });
        var (_, open) = await fixture.CreateKeyAsync(tenantId, new { name = "open" });
        var (_, narrow) = await fixture.CreateKeyAsync(tenantId, new { name = "narrow", models = new[] { "default" } });
        using var onFirst = TenancyFixture.Client(fixture.First, open);
        using var onSecond = TenancyFixture.Client(fixture.Second, open);
        using var narrowClient = TenancyFixture.Client(fixture.Second, narrow);
        // A client that really leaves: HttpClient otherwise reads the rest of an unfinished answer to reuse the connection.
        using var leaving = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = fixture.First.BaseAddress };
        leaving.DefaultRequestHeaders.Authorization = new("Bearer", open);
        var before = await SimulatorTokensAsync(fixture.Simulator);

        // 6,000 JSON answers, 2,000 streams, 1,000 provider errors, 900 refusals, 100 streams the client leaves.
        var kinds = Enumerable.Range(0, 10_000).Select(i => (i % 100) switch
        {
            < 60 => "json",
            < 80 => "stream",
            < 90 => "error",
            < 99 => "refused",
            _ => "abandoned",
        }).ToArray();
        var outcomes = new int[kinds.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, kinds.Length), new ParallelOptions { MaxDegreeOfParallelism = 48 }, async (i, _) =>
        {
            var client = i % 2 == 0 ? onFirst : onSecond;
            switch (kinds[i])
            {
                case "json":
                case "stream":
                    using (var response = await client.PostAsync("/v1/chat/completions", Json.Chat(stream: kinds[i] == "stream", extra: $",\"seed\":{i % 7 + 1}")))
                    {
                        var text = await response.Content.ReadAsStringAsync();
                        Assert.DoesNotContain("agentplatform-usage", text);
                        outcomes[i] = (int)response.StatusCode;
                    }
                    break;
                case "error":
                    using (var response = await client.PostAsync("/v1/chat/completions", Json.Chat(extra: ",\"max_tokens\":0")))
                    {
                        outcomes[i] = (int)response.StatusCode;
                    }
                    break;
                case "refused":
                    using (var response = await narrowClient.PostAsync("/v1/chat/completions", Json.Chat(model: "other")))
                    {
                        outcomes[i] = (int)response.StatusCode;
                    }
                    break;
                default:
                    using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat(model: "dribble", stream: true) })
                    using (var response = await leaving.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
                    {
                        await using var body = await response.Content.ReadAsStreamAsync();
                        await body.ReadAtLeastAsync(new byte[64], 1); // the first bytes, then away
                        outcomes[i] = (int)response.StatusCode;
                    }
                    break;
            }
        });

        var records = await LedgerAsync($"tenantId={tenantId}", expected: 10_000);
        Assert.Equal(10_000, records.Count);
        Assert.Equal(10_000, records.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
        var byOutcome = records.GroupBy(r => r.GetProperty("outcome").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(8_000, byOutcome["success"]);
        Assert.Equal(1_000, byOutcome["error"]);
        Assert.Equal(900, byOutcome["refused"]);
        Assert.Equal(100, byOutcome["client_aborted"]);
        Assert.Equal(8_000, outcomes.Count(o => o == 200) - 100);

        // Every token the simulator reported is in the ledger, and only those are not estimates.
        var after = await SimulatorTokensAsync(fixture.Simulator);
        var reported = records.Where(r => !r.GetProperty("estimated").GetBoolean()).ToList();
        Assert.Equal(after.Prompt - before.Prompt, reported.Sum(r => r.GetProperty("promptTokens").GetInt64()));
        Assert.Equal(after.Completion - before.Completion, reported.Sum(r => r.GetProperty("completionTokens").GetInt64()));
        Assert.All(records.Where(r => r.GetProperty("outcome").GetString() == "client_aborted"), r =>
        {
            Assert.True(r.GetProperty("estimated").GetBoolean());
            Assert.True(r.GetProperty("promptTokens").GetInt64() > 0);
        });

        // The roll-ups agree with the records.
        var summary = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/usage/summary?tenantId={tenantId}&granularity=day");
        Assert.Equal(10_000, summary.GetProperty("data").EnumerateArray().Sum(row => row.GetProperty("requests").GetInt64()));
        Assert.Equal(records.Sum(r => r.GetProperty("completionTokens").GetInt64()),
            summary.GetProperty("data").EnumerateArray().Sum(row => row.GetProperty("completionTokens").GetInt64()));

        // No key, hash or provider secret in any log line of the run.
        var logged = string.Join("\n", fixture.Logs.Logs.Select(l => l.Message));
        foreach (var secret in new[] { open, narrow, AgentPlatform.Api.Tenancy.TenancyStore.HashOf(open), AgentPlatform.Api.Tenancy.TenancyStore.HashOf(narrow), PlatformFixture.MasterKey })
        {
            Assert.DoesNotContain(secret, logged);
        }
    }

    [Fact]
    public async Task Usage_is_filtered_by_key_model_and_time_and_exported_as_csv()
    {
        using var admin = fixture.Admin();
        var tenantId = await fixture.CreateTenantAsync(new { name = "Exported" });
        var (keyId, key) = await fixture.CreateKeyAsync(tenantId, new { name = "billing" });
        using var client = TenancyFixture.Client(fixture.First, key);
        using (await client.PostAsync("/v1/chat/completions", Json.Chat(model: "default"))) { }
        using (await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", stream: true))) { }

        var all = await LedgerAsync($"keyId={keyId}", expected: 2);
        var priced = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/usage?keyId={keyId}&model=priced");
        var future = await admin.GetFromJsonAsync<JsonElement>(
            $"/admin/v1/usage?keyId={keyId}&from={Uri.EscapeDataString($"{DateTimeOffset.UtcNow.AddMinutes(5):O}")}&to={Uri.EscapeDataString($"{DateTimeOffset.UtcNow.AddMinutes(10):O}")}");
        using var export = await admin.GetAsync($"/admin/v1/usage?keyId={keyId}&format=csv");
        var csv = await export.Content.ReadAsStringAsync();
        using var bad = await admin.GetAsync("/admin/v1/usage?from=yesterday");

        // A download: named, typed, and its records' fields are the header's.
        Assert.Equal("text/csv", export.Content.Headers.ContentType?.MediaType);
        Assert.Equal("usage.csv", export.Content.Headers.ContentDisposition?.FileName);
        Assert.Equal("attachment", export.Content.Headers.ContentDisposition?.DispositionType);

        var record = Assert.Single(priced.GetProperty("data").EnumerateArray());
        Assert.Equal("priced-sim", record.GetProperty("deployment").GetString());
        Assert.Equal(tenantId, record.GetProperty("tenantId").GetString());
        Assert.True(record.GetProperty("stream").GetBoolean());
        var expectedCost = (record.GetProperty("promptTokens").GetInt64() * (decimal)TenancyFixture.InputPrice
            + record.GetProperty("completionTokens").GetInt64() * (decimal)TenancyFixture.OutputPrice) / 1_000_000m;
        Assert.Equal(expectedCost, record.GetProperty("costUsd").GetDecimal());
        Assert.True(record.GetProperty("latencyMs").GetDouble() > 0);
        Assert.True(record.TryGetProperty("overheadMs", out _));
        Assert.Equal("bypass", record.GetProperty("cache").GetString());
        Assert.Equal(2, all.Count);
        Assert.Empty(future.GetProperty("data").EnumerateArray());
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("id,requestId,time,tenantId,keyId,model,deployment,promptTokens", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("from", (await Json.ReadErrorAsync(bad)).GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_request_is_found_by_its_id_and_the_timeline_counts_it_once_with_its_cost_and_latency()
    {
        using var admin = fixture.Admin(fixture.Second);
        var (before, recordsBefore) = await TimelineWithRecordsAsync(admin);
        var (keyId, key) = await CreateKeyAsync(new { name = "Timeline" }, new { name = "timeline" });
        using var client = TenancyFixture.Client(fixture.First, key);
        var requestId = $"lookup-{Guid.NewGuid():N}";
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat(model: "priced") })
        {
            request.Headers.Add("x-request-id", requestId);
            using var answered = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", stream: i % 2 == 0));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var records = await LedgerAsync($"keyId={keyId}", expected: 5);

        var found = await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/usage?requestId={requestId}");
        var missing = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/usage?requestId=no-such-request");
        var (after, recordsAfter) = await TimelineWithRecordsAsync(admin);
        var day = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/usage/timeline?window=day");
        using var badWindow = await admin.GetAsync("/admin/v1/usage/timeline?window=month");

        var record = Assert.Single(found.GetProperty("data").EnumerateArray());
        Assert.Equal(keyId, record.GetProperty("keyId").GetString());
        Assert.Equal(requestId, record.GetProperty("requestId").GetString());
        Assert.Empty(missing.GetProperty("data").EnumerateArray());

        // The window grew by exactly the records written meanwhile: these five, and any an earlier test's
        // last request left in a replica's spool (the ledger trails answers by up to 50 ms).
        var (totalsBefore, totalsAfter) = (before.GetProperty("totals"), after.GetProperty("totals"));
        Assert.Equal(recordsAfter.Count - recordsBefore.Count, totalsAfter.GetProperty("requests").GetInt64() - totalsBefore.GetProperty("requests").GetInt64());
        var written = recordsAfter.ExceptBy(recordsBefore.Select(r => r.GetProperty("id").GetString()), r => r.GetProperty("id").GetString()).ToList();
        Assert.Equal(5, written.Count(r => r.GetProperty("keyId").GetString() == keyId));
        Assert.Equal(written.Sum(r => r.GetProperty("costUsd").GetDecimal()),
            totalsAfter.GetProperty("costUsd").GetDecimal() - totalsBefore.GetProperty("costUsd").GetDecimal());
        Assert.Equal(written.Sum(r => r.GetProperty("completionTokens").GetInt64()),
            totalsAfter.GetProperty("completionTokens").GetInt64() - totalsBefore.GetProperty("completionTokens").GetInt64());
        var points = after.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(60, points.Count);
        Assert.Equal(60, after.GetProperty("stepSeconds").GetInt32());
        Assert.Equal(totalsAfter.GetProperty("requests").GetInt64(), points.Sum(p => p.GetProperty("sums").GetProperty("requests").GetInt64()));
        // The histogram's p50 lies within ±15% of the records' true median... of this window, which holds other
        // tests' requests too: only its order is checked here, the bucket arithmetic in UsageTimelineTests.
        Assert.True(totalsAfter.GetProperty("latencyP50Ms").GetDouble() > 0);
        Assert.True(totalsAfter.GetProperty("latencyP99Ms").GetDouble() >= totalsAfter.GetProperty("latencyP50Ms").GetDouble());
        Assert.True(totalsAfter.GetProperty("overheadP50Ms").GetDouble() > 0);
        Assert.Equal(24, day.GetProperty("points").GetArrayLength());
        Assert.True(day.GetProperty("totals").GetProperty("requests").GetInt64() >= totalsAfter.GetProperty("requests").GetInt64());
        Assert.Equal(HttpStatusCode.BadRequest, badWindow.StatusCode);

        // The spend ranking is the hourly roll-ups of the hours the window touches, summed per key.
        var summary = await admin.GetFromJsonAsync<JsonElement>(
            $"/admin/v1/usage/summary?from={Uri.EscapeDataString(after.GetProperty("spendSince").GetDateTimeOffset().ToString("O"))}");
        var expectedKeys = summary.GetProperty("data").EnumerateArray()
            .Where(r => r.GetProperty("keyId").ValueKind == JsonValueKind.String)
            .GroupBy(r => r.GetProperty("keyId").GetString()!)
            .Select(g => (Id: g.Key, Cost: g.Sum(r => r.GetProperty("costUsd").GetDecimal()), Requests: g.Sum(r => r.GetProperty("requests").GetInt64())))
            .OrderByDescending(k => k.Cost).ThenByDescending(k => k.Requests).ThenBy(k => k.Id, StringComparer.Ordinal).Take(5)
            .Select(k => k.Id).ToList();
        Assert.Equal(expectedKeys, after.GetProperty("top").GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("id").GetString()!).ToList());
        Assert.Contains(after.GetProperty("top").GetProperty("models").EnumerateArray(), m => m.GetProperty("id").GetString() == "priced");
    }

    [Fact]
    public async Task Spend_this_period_is_what_the_ledger_recorded_for_the_key_and_its_tenant()
    {
        using var admin = fixture.Admin(fixture.Second);
        var tenantId = await fixture.CreateTenantAsync(new { name = "Spending", budgetUsd = 100, budgetPeriod = "monthly" });
        var (keyId, key) = await fixture.CreateKeyAsync(tenantId, new { name = "spender", budgetUsd = 5, budgetPeriod = "daily" });
        using var client = TenancyFixture.Client(fixture.First, key);
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced", stream: i == 1));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var cost = (await LedgerAsync($"keyId={keyId}", expected: 3)).Sum(r => r.GetProperty("costUsd").GetDecimal());

        var spend = (await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/spend?tenantId={tenantId}")).GetProperty("data").EnumerateArray().ToList();
        var all = (await admin.GetFromJsonAsync<JsonElement>("/admin/v1/spend")).GetProperty("data").EnumerateArray().ToList();
        using var unknown = await admin.GetAsync("/admin/v1/spend?tenantId=ten_missing");

        var keySpend = spend.Single(s => s.GetProperty("scope").GetString() == "key");
        Assert.Equal(keyId, keySpend.GetProperty("id").GetString());
        Assert.Equal(cost, keySpend.GetProperty("spentUsd").GetDecimal());
        Assert.Equal(5m, keySpend.GetProperty("budgetUsd").GetDecimal());
        Assert.Equal(DateTimeOffset.UtcNow.Date, keySpend.GetProperty("periodStart").GetDateTimeOffset().UtcDateTime.Date);
        var tenantSpend = spend.Single(s => s.GetProperty("scope").GetString() == "tenant");
        Assert.Equal(cost, tenantSpend.GetProperty("spentUsd").GetDecimal());
        Assert.Equal("monthly", tenantSpend.GetProperty("budgetPeriod").GetString());
        Assert.Contains(all, s => s.GetProperty("id").GetString() == tenantId && s.GetProperty("spentUsd").GetDecimal() == cost);
        Assert.All(all, s => Assert.Equal("tenant", s.GetProperty("scope").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("budget", keySpend.GetProperty("source").GetString());
    }

    [Fact]
    public async Task Without_a_budget_spend_is_the_ledgers_for_the_month()
    {
        using var admin = fixture.Admin(fixture.Second);
        var tenantId = await fixture.CreateTenantAsync(new { name = "Unbudgeted" });
        var (keyId, key) = await fixture.CreateKeyAsync(tenantId, new { name = "free" });
        using var client = TenancyFixture.Client(fixture.First, key);
        using (var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "priced")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var cost = Assert.Single(await LedgerAsync($"keyId={keyId}", expected: 1)).GetProperty("costUsd").GetDecimal();

        var spend = (await admin.GetFromJsonAsync<JsonElement>($"/admin/v1/spend?tenantId={tenantId}")).GetProperty("data").EnumerateArray().ToList();

        Assert.All(spend, s =>
        {
            Assert.Equal("ledger", s.GetProperty("source").GetString());
            Assert.Equal(cost, s.GetProperty("spentUsd").GetDecimal());
            Assert.Equal(1, s.GetProperty("periodStart").GetDateTimeOffset().Day);
        });
        Assert.Equal(2, spend.Count);
    }

    [Fact]
    public async Task Successful_answers_carry_the_token_limit_headers()
    {
        var (_, key) = await CreateKeyAsync(new { name = "Headers" }, new { name = "headers", tpm = 5_000, rpm = 100 });
        using var client = TenancyFixture.Client(fixture.First, key);

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(extra: ",\"max_tokens\":100"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("5000", response.Headers.GetValues("x-ratelimit-limit-tokens").Single());
        var remaining = int.Parse(response.Headers.GetValues("x-ratelimit-remaining-tokens").Single());
        Assert.InRange(remaining, 4_800, 4_899); // the prompt's few tokens and max_tokens reserved
        Assert.Equal("99", response.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.False(response.Headers.Contains("x-agentplatform-usage"));
        Assert.False(response.Headers.Contains("x-agentplatform-price-per-million"));
    }

    /// <summary>
    /// The last hour's timeline and every record of the fixture's life, as of one moment: read until the
    /// timeline is the same before and after the records are read (no record was written in between).
    /// </summary>
    private static async Task<(JsonElement Timeline, List<JsonElement> Records)> TimelineWithRecordsAsync(HttpClient admin)
    {
        var read = await Eventually.ReadAsync(async () =>
        {
            var first = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/usage/timeline?window=hour");
            var lines = (await admin.GetStringAsync("/admin/v1/usage?format=jsonl")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var second = await admin.GetFromJsonAsync<JsonElement>("/admin/v1/usage/timeline?window=hour");
            return (Timeline: second, Records: lines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList(),
                Still: Requests(first) == Requests(second) && Requests(second) == lines.Length);
        }, read => read.Still, "a moment without ledger writes");
        return (read.Timeline, read.Records);

        static long Requests(JsonElement timeline) => timeline.GetProperty("totals").GetProperty("requests").GetInt64();
    }

    private async Task<List<JsonElement>> LedgerAsync(string query, int expected)
    {
        using var admin = fixture.Admin(fixture.Second);
        return await ApiCalls.LedgerAsync(admin, query, expected);
    }

    private static async Task<(long Prompt, long Completion)> SimulatorTokensAsync(KestrelApp<AgentPlatform.Simulator.SimulatorOptions> simulator)
    {
        using var client = simulator.CreateHttpClient();
        var stats = await client.GetFromJsonAsync<JsonElement>("/sim/stats");
        return (stats.GetProperty("promptTokens").GetInt64(), stats.GetProperty("completionTokens").GetInt64());
    }

    private async Task<(string Id, string Key)> CreateKeyAsync(object tenant, object key) =>
        await fixture.CreateKeyAsync(await fixture.CreateTenantAsync(tenant), key);
}

public sealed class UsageTests(TenancyFixture fixture) : UsageSuite<TenancyFixture>(fixture);

public sealed class UsageOnClusterTests(ClusterTenancyFixture fixture) : UsageSuite<ClusterTenancyFixture>(fixture);
