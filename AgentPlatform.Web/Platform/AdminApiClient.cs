using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentPlatform.Contracts.Admin;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Web.Platform;

/// <summary>One request's usage record, as the ledger keeps it.</summary>
public sealed record UsageRecordView(
    string RequestId, DateTimeOffset Time, string? TenantId, string? KeyId, string? Model, string? Deployment,
    long PromptTokens, long CachedTokens, long CompletionTokens, decimal CostUsd, double LatencyMs, double? OverheadMs,
    int Status, string Outcome, string Cache, bool Stream = false, string? TraceId = null, double? TimeToFirstTokenMs = null, string? Door = null,
    long CacheWriteTokens = 0)
{
    /// <summary>The door the request came through, as a client calls it; none for an agent's steps and older records.</summary>
    public string? DoorPath => Door switch
    {
        "chat.completions" => "POST /v1/chat/completions",
        "embeddings" => "POST /v1/embeddings",
        "messages" => "POST /v1/messages",
        "responses" => "POST /v1/responses",
        _ => null,
    };
}

/// <summary>Which usage records to read: a tenant, a key, a model group, the last hours.</summary>
public sealed record UsageQuery(string? TenantId, string? Model, int Hours, string? KeyId = null)
{
    /// <summary>The admin API's query string for this filter (the same for the table and the exports).</summary>
    public string QueryString(DateTimeOffset now)
    {
        var query = new List<string>
        {
            $"from={Uri.EscapeDataString(now.AddHours(-Hours).ToString("O", CultureInfo.InvariantCulture))}",
            $"to={Uri.EscapeDataString(now.AddMinutes(1).ToString("O", CultureInfo.InvariantCulture))}",
        };
        if (!string.IsNullOrWhiteSpace(TenantId))
        {
            query.Add($"tenantId={Uri.EscapeDataString(TenantId)}");
        }
        if (!string.IsNullOrWhiteSpace(KeyId))
        {
            query.Add($"keyId={Uri.EscapeDataString(KeyId)}");
        }
        if (!string.IsNullOrWhiteSpace(Model))
        {
            query.Add($"model={Uri.EscapeDataString(Model.Trim())}");
        }
        return string.Join('&', query);
    }
}

/// <summary>A key just created: the one time its plaintext exists outside the client that asked for it.</summary>
public sealed record CreatedKey(KeyView Key, string Plaintext);

/// <summary>What the operator fills in for a new tenant or key, as typed; empty fields set no limit.</summary>
public sealed class LimitsForm
{
    public string Name { get; set; } = "";

    public string Rpm { get; set; } = "";

    public string BudgetUsd { get; set; } = "";

    public string BudgetPeriod { get; set; } = "monthly";

    /// <summary>The form filled with what a tenant or key has now, for editing.</summary>
    public static LimitsForm From(string name, int? rpm, decimal? budgetUsd, string budgetPeriod) => new()
    {
        Name = name,
        Rpm = rpm?.ToString(CultureInfo.InvariantCulture) ?? "",
        BudgetUsd = budgetUsd?.ToString(CultureInfo.InvariantCulture) ?? "",
        BudgetPeriod = budgetPeriod is "" or "none" ? "monthly" : budgetPeriod,
    };

    public int? ParsedRpm => int.TryParse(Rpm, NumberStyles.None, CultureInfo.InvariantCulture, out var rpm) ? rpm : null;

    public decimal? ParsedBudgetUsd => decimal.TryParse(BudgetUsd, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var usd) ? usd : null;

    /// <summary>What is wrong with the form, in words for the operator; null when it can be sent.</summary>
    public string? Problem() =>
        string.IsNullOrWhiteSpace(Name) ? "A name is needed."
        : Rpm.Trim().Length > 0 && ParsedRpm is not > 0 ? "Requests per minute must be a whole number above 0, or empty for no limit."
        : BudgetUsd.Trim().Length > 0 && ParsedBudgetUsd is not >= 0 ? "The budget must be an amount in USD such as 25 or 12.50, or empty for none."
        : null;
}

/// <summary>The admin API refused or could not be reached; the message is for the operator.</summary>
public sealed class AdminApiException(string message) : Exception(message);

/// <summary>
/// The console's calls to the Api's admin API (<c>/admin/v1</c>), made from the server with the
/// configured master key — the browser never sees it.
/// </summary>
public sealed class AdminApiClient(IHttpClientFactory httpClientFactory, IOptions<ConsoleOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private static readonly JsonSerializerOptions IndentedJson = new(Json) { WriteIndented = true };

    public async Task<IReadOnlyList<TenantView>> ListTenantsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<TenantView>>(HttpMethod.Get, "/admin/v1/tenants", null, cancellationToken)).Data
            .OrderBy(t => t.Name, StringComparer.OrdinalIgnoreCase).ToList();

    public Task<TenantView> CreateTenantAsync(LimitsForm form, CancellationToken cancellationToken) =>
        SendAsync<TenantView>(HttpMethod.Post, "/admin/v1/tenants", Body(form, tenantId: null), cancellationToken);

    public async Task<IReadOnlyList<KeyView>> ListKeysAsync(string tenantId, CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<KeyView>>(HttpMethod.Get, $"/admin/v1/keys?tenantId={Uri.EscapeDataString(tenantId)}", null, cancellationToken)).Data
            .OrderByDescending(k => k.CreatedAt).ToList();

    public async Task<CreatedKey> CreateKeyAsync(string tenantId, LimitsForm form, CancellationToken cancellationToken)
    {
        var created = await SendAsync<KeyView>(HttpMethod.Post, "/admin/v1/keys", Body(form, tenantId), cancellationToken);
        return new CreatedKey(created, created.Key!);
    }

    /// <summary>Sets the tenant's name, requests per minute and budget as the form has them; an empty field clears its limit.</summary>
    public Task<TenantView> UpdateTenantAsync(string tenantId, LimitsForm form, CancellationToken cancellationToken) =>
        SendAsync<TenantView>(HttpMethod.Patch, $"/admin/v1/tenants/{Uri.EscapeDataString(tenantId)}", Changes(form), cancellationToken);

    public Task<KeyView> UpdateKeyAsync(string keyId, LimitsForm form, CancellationToken cancellationToken) =>
        SendAsync<KeyView>(HttpMethod.Patch, $"/admin/v1/keys/{Uri.EscapeDataString(keyId)}", Changes(form), cancellationToken);

    /// <summary>Every tenant's spend this period, or with <paramref name="tenantId"/> that tenant's and its keys'.</summary>
    public async Task<IReadOnlyList<SpendView>> ReadSpendAsync(string? tenantId, CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<SpendView>>(HttpMethod.Get,
            tenantId is null ? "/admin/v1/spend" : $"/admin/v1/spend?tenantId={Uri.EscapeDataString(tenantId)}", null, cancellationToken)).Data;

    public Task RevokeKeyAsync(string keyId, CancellationToken cancellationToken) =>
        SendAsync<KeyView>(HttpMethod.Delete, $"/admin/v1/keys/{Uri.EscapeDataString(keyId)}", null, cancellationToken);

    public async Task<IReadOnlyList<AlertRule>> ListAlertRulesAsync(CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<AlertRule>>(HttpMethod.Get, "/admin/v1/alerts/rules", null, cancellationToken)).Data;

    /// <summary>Turns a rule on or off: the rule as stored, with only <c>enabled</c> changed.</summary>
    public async Task SetAlertRuleEnabledAsync(string name, bool enabled, CancellationToken cancellationToken)
    {
        var path = RulePath(name);
        var rule = await SendAsync<AlertRule>(HttpMethod.Get, path, null, cancellationToken);
        await SendAsync<AlertRule>(HttpMethod.Put, path, rule with { Enabled = enabled }, cancellationToken);
    }

    /// <summary>The rule as stored, as indented JSON for the operator to edit (the fields it leaves unset left out).</summary>
    public async Task<string> GetAlertRuleJsonAsync(string name, CancellationToken cancellationToken) =>
        JsonSerializer.Serialize(await SendAsync<AlertRule>(HttpMethod.Get, RulePath(name), null, cancellationToken), IndentedJson);

    /// <summary>
    /// Creates or replaces the rule from the operator's JSON, sent as typed: the admin API, not the
    /// console, says what is wrong with it (a misspelt field included, which a typed read would drop).
    /// </summary>
    public Task PutAlertRuleAsync(string name, string json, CancellationToken cancellationToken) =>
        SendAsync<AlertRule>(HttpMethod.Put, RulePath(name), ParseOperatorJson(json), cancellationToken);

    public Task DeleteAlertRuleAsync(string name, CancellationToken cancellationToken) =>
        SendAsync<Deletion>(HttpMethod.Delete, RulePath(name), null, cancellationToken);

    public async Task<IReadOnlyList<AgentDefinition>> ListAgentsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<AgentDefinition>>(HttpMethod.Get, "/admin/v1/agents", null, cancellationToken)).Data;

    public async Task<IReadOnlyList<AgentDefinition>> ListAgentVersionsAsync(string name, CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<AgentDefinition>>(HttpMethod.Get, $"{AgentPath(name)}/versions", null, cancellationToken)).Data;

    /// <summary>The agent's definition as indented JSON for the operator to edit: without its name, version and time, which the Api sets.</summary>
    public async Task<string> GetAgentJsonAsync(string name, CancellationToken cancellationToken)
    {
        var agent = JsonSerializer.SerializeToNode(await SendAsync<AgentDefinition>(HttpMethod.Get, AgentPath(name), null, cancellationToken), Json)!.AsObject();
        agent.Remove("name");
        agent.Remove("version");
        agent.Remove("updatedAt");
        return agent.ToJsonString(IndentedJson);
    }

    /// <summary>Saves the operator's JSON as the agent's next version; the admin API's refusal names every problem.</summary>
    public Task PutAgentAsync(string name, string json, CancellationToken cancellationToken) =>
        SendAsync<AgentDefinition>(HttpMethod.Put, AgentPath(name), ParseOperatorJson(json), cancellationToken);

    public Task DeleteAgentAsync(string name, CancellationToken cancellationToken) =>
        SendAsync<Deletion>(HttpMethod.Delete, AgentPath(name), null, cancellationToken);

    public async Task<IReadOnlyList<Alert>> ListFiringAlertsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<Alert>>(HttpMethod.Get, "/admin/v1/alerts", null, cancellationToken)).Data;

    public async Task<IReadOnlyList<AlertEvent>> ReadAlertHistoryAsync(int limit, CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<AlertEvent>>(HttpMethod.Get, $"/admin/v1/alerts/history?limit={limit}", null, cancellationToken)).Data;

    public async Task<(IReadOnlyList<UsageRecordView> Records, bool HasMore)> ReadUsageAsync(UsageQuery query, int limit, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var page = await SendAsync<Page<UsageRecordView>>(HttpMethod.Get, $"/admin/v1/usage?{query.QueryString(now)}&limit={limit}", null, cancellationToken);
        return (page.Data, page.HasMore);
    }

    /// <summary>The hourly roll-ups matching the query (the same filter as the records), for the usage chart.</summary>
    public async Task<IReadOnlyList<UsageSummaryRow>> ReadHourlySummaryAsync(UsageQuery query, DateTimeOffset now, CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<UsageSummaryRow>>(HttpMethod.Get, $"/admin/v1/usage/summary?granularity=hour&{query.QueryString(now)}", null, cancellationToken)).Data;

    /// <summary>The admin API's export (<c>csv</c> or <c>jsonl</c>) of the query, as a response to stream on; the caller disposes it.</summary>
    public async Task<HttpResponseMessage> ExportUsageAsync(string queryString, string format, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/admin/v1/usage?{queryString}&format={Uri.EscapeDataString(format)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.MasterKey);
        return await httpClientFactory.CreateClient(PlatformApiClient.StreamingHttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    public Task<TimelineView> ReadTimelineAsync(string window, CancellationToken cancellationToken) =>
        SendAsync<TimelineView>(HttpMethod.Get, $"/admin/v1/usage/timeline?window={Uri.EscapeDataString(window)}", null, cancellationToken);

    /// <summary>Every key of every tenant (never the keys themselves), for showing names where the ledger has ids.</summary>
    public async Task<IReadOnlyList<KeyView>> ListAllKeysAsync(CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<KeyView>>(HttpMethod.Get, "/admin/v1/keys", null, cancellationToken)).Data;

    /// <summary>The usage records of one request id (usually one), looked up over the ledger's retention.</summary>
    public async Task<IReadOnlyList<UsageRecordView>> FindRequestAsync(string requestId, CancellationToken cancellationToken) =>
        (await SendAsync<Page<UsageRecordView>>(HttpMethod.Get, $"/admin/v1/usage?requestId={Uri.EscapeDataString(requestId.Trim())}", null, cancellationToken)).Data;

    public async Task<IReadOnlyList<DeploymentView>> ListDeploymentsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<ListOf<DeploymentView>>(HttpMethod.Get, "/admin/v1/deployments", null, cancellationToken)).Data;

    /// <summary>Takes the deployment out of rotation on every Router replica; requests in flight finish.</summary>
    public Task<DeploymentView> DrainAsync(DeploymentView deployment, string? reason, CancellationToken cancellationToken) =>
        SendAsync<DeploymentView>(HttpMethod.Post, DrainPath(deployment),
            string.IsNullOrWhiteSpace(reason) ? null : new DrainRequest(reason.Trim()), cancellationToken);

    public Task<DeploymentView> UndrainAsync(DeploymentView deployment, CancellationToken cancellationToken) =>
        SendAsync<DeploymentView>(HttpMethod.Delete, DrainPath(deployment), null, cancellationToken);

    /// <summary>JSON the operator typed; its syntax error, in words, as the page's error.</summary>
    private static JsonElement ParseOperatorJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<JsonElement>(json);
        }
        catch (JsonException exception)
        {
            throw new AdminApiException($"That is not JSON: {exception.Message}");
        }
    }

    private static string RulePath(string name) => $"/admin/v1/alerts/rules/{Uri.EscapeDataString(name)}";

    private static string AgentPath(string name) => $"/admin/v1/agents/{Uri.EscapeDataString(name)}";

    private static string DrainPath(DeploymentView deployment) =>
        $"/admin/v1/deployments/{Uri.EscapeDataString(deployment.ModelGroup)}/{Uri.EscapeDataString(deployment.Name)}/drain";

    /// <summary>The form's fields as a PATCH: rpm and budget cleared (null) when left empty.</summary>
    private static LimitsChange Changes(LimitsForm form) => new()
    {
        Name = form.Name.Trim(),
        Rpm = form.ParsedRpm is { } rpm ? rpm : Patch<int>.Null,
        BudgetUsd = form.ParsedBudgetUsd is { } budget ? budget : Patch<decimal>.Null,
        BudgetPeriod = form.ParsedBudgetUsd is null ? default(Patch<string>) : form.BudgetPeriod,
    };

    /// <summary>A new tenant or key (of <paramref name="tenantId"/>): the form's fields that are filled in.</summary>
    private static LimitsChange Body(LimitsForm form, string? tenantId) => new()
    {
        Name = form.Name.Trim(),
        TenantId = tenantId is null ? default(Patch<string>) : tenantId,
        Rpm = form.ParsedRpm is { } rpm ? rpm : default(Patch<int>),
        BudgetUsd = form.ParsedBudgetUsd is { } budget ? budget : default(Patch<decimal>),
        BudgetPeriod = form.ParsedBudgetUsd is null ? default(Patch<string>) : form.BudgetPeriod,
    };

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body, options: Json) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.MasterKey);
        HttpResponseMessage response;
        try
        {
            response = await httpClientFactory.CreateClient(PlatformApiClient.HttpClientName).SendAsync(request, cancellationToken);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new AdminApiException("The Api cannot be reached right now. Check that it is running, then try again.");
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new AdminApiException(await RefusalAsync(response, cancellationToken));
            }
            return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken))!;
        }
    }

    /// <summary>The admin API's own message for a refusal (it names the field at fault), else its status.</summary>
    private static async Task<string> RefusalAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var error = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            return error.GetProperty("error").GetProperty("message").GetString() ?? $"The admin API refused ({(int)response.StatusCode}).";
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException or NotSupportedException)
        {
            return $"The admin API refused ({(int)response.StatusCode}).";
        }
    }
}
