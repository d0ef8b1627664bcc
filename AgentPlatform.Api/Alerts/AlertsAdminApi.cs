using System.Text.Json;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// <c>/admin/v1/alerts</c>: the alerts firing now, their history, the rules (read and edited here, shared
/// by every replica) and the webhooks' names. The group this maps on requires the master key.
/// </summary>
public static class AlertsAdminApi
{
    private const int MaxBodyBytes = 64 * 1024;

    public static RouteGroupBuilder MapAlertsAdminApi(this RouteGroupBuilder admin)
    {
        var alerts = admin.MapGroup("/alerts");
        alerts.MapGet("", async (AlertStore store) => TypedResults.Ok(ListOf.Of(await store.ListActiveAsync())))
            .WithName("ListFiringAlerts").WithSummary("The alerts firing now.");
        alerts.MapGet("/history", async (AlertStore store, int? limit) => TypedResults.Ok(ListOf.Of(await store.ReadHistoryAsync(Math.Clamp(limit ?? 100, 1, 10_000)))))
            .WithName("ReadAlertHistory").WithSummary("Alerts fired and resolved, and their notifications delivered or failed, newest first.");
        alerts.MapGet("/webhooks", (IOptions<AlertOptions> options) => TypedResults.Ok(ListOf.Of(options.Value.Webhooks.Select(w => new WebhookView(w.Name, w.Format)))))
            .WithName("ListAlertWebhooks").WithSummary("Where notifications go: names and formats (URLs are secrets and never shown).");
        alerts.MapGet("/rules", async (AlertStore store) => TypedResults.Json(ListOf.Of(await store.ListRulesAsync()), AlertJsonContext.Default.ListOfAlertRule))
            .WithName("ListAlertRules");
        alerts.MapGet("/rules/{name}", GetRuleAsync).WithName("GetAlertRule");
        alerts.MapPut("/rules/{name}", PutRuleAsync).WithName("PutAlertRule")
            .WithSummary("Creates or replaces a rule; the next evaluation on any replica uses it.");
        alerts.MapDelete("/rules/{name}", DeleteRuleAsync).WithName("DeleteAlertRule")
            .WithSummary("Deletes a rule; its firing alerts resolve at the next evaluation.");
        return admin;
    }

    /// <summary>A webhook as the admin API shows it: its URL is a secret and never shown.</summary>
    public sealed record WebhookView(string Name, string Format);

    // A rule is written as it is stored (AlertJsonContext: fields it does not set are left out), the form the console edits;
    // the list writes each rule the same way.
    private static JsonHttpResult<AlertRule> Rule(AlertRule rule) => TypedResults.Json(rule, AlertJsonContext.Default.AlertRule);

    private static async Task<Results<JsonHttpResult<AlertRule>, OpenAIErrorResult>> GetRuleAsync(AlertStore store, string name) =>
        await store.GetRuleAsync(name) is { } rule ? Rule(rule) : NotFound(name);

    private static async Task<Results<JsonHttpResult<AlertRule>, OpenAIErrorResult>> PutRuleAsync(HttpContext context, AlertStore store, string name)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        AlertRule? rule = null;
        var problems = new List<string>();
        try
        {
            rule = body is null ? null : JsonSerializer.Deserialize(body.Span, AlertJsonContext.Default.AlertRule);
        }
        catch (JsonException exception)
        {
            problems.Add($"The body is not a rule: {exception.Message}");
        }
        if (body is null)
        {
            problems.Add($"The request body is larger than {MaxBodyBytes} bytes.");
        }
        if (rule is not null)
        {
            if (!string.IsNullOrEmpty(rule.Name) && rule.Name != name)
            {
                problems.Add($"The body's name '{rule.Name}' is not the URL's '{name}'.");
            }
            // A field the body leaves out comes back null (or false) from the source-generated serializer,
            // not as its initial value: a rule is on unless the body says "enabled": false.
            rule = rule with
            {
                Name = name,
                Kind = rule.Kind ?? "",
                ThresholdsPercent = rule.ThresholdsPercent ?? [],
                Enabled = rule.Enabled || !HasProperty(body!.Span, "enabled"),
            };
            problems.AddRange(rule.Problems());
        }
        else if (problems.Count == 0)
        {
            problems.Add("The body must be a JSON object: {\"kind\": \"budget\", \"thresholdsPercent\": [50, 80, 100]}.");
        }
        if (problems.Count > 0)
        {
            return OpenAIErrorResult.BadRequest(string.Join(" ", problems), "invalid_alert_rule");
        }
        await store.SaveRuleAsync(rule!);
        return Rule(rule!);
    }

    private static bool HasProperty(ReadOnlySpan<byte> json, string name)
    {
        var reader = new Utf8JsonReader(json);
        return JsonDocument.TryParseValue(ref reader, out var document) && document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty(name, out _);
    }

    private static async Task<Results<Ok<Deletion>, OpenAIErrorResult>> DeleteRuleAsync(AlertStore store, string name) =>
        await store.DeleteRuleAsync(name) ? TypedResults.Ok(new Deletion(name)) : NotFound(name);

    private static OpenAIErrorResult NotFound(string name) => OpenAIErrorResult.NotFound($"No alert rule is named '{name}'.", "alert_rule_not_found");
}
